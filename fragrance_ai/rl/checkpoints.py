"""A policy checkpoint as bytes: the agent's weights (actor and critic) and what they mean.

The metadata names the state features and actions the weights were trained on (a policy
from another catalogue is refused, not misread), the update it was written at, and the
run's seed and hyperparameters. Nothing in it varies between two runs with the same seed
(no timestamps, no run id: those are in the database), so such runs write identical files.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from fragrance_ai.rl.ppo import Agent
from fragrance_ai.rl.weights_file import Arrays, encode

FORMAT = "fragrance-ai-policy/1"


def encode_checkpoint(
    agent: Agent,
    *,
    feature_names: tuple[str, ...],
    action_names: tuple[str, ...],
    update: int,
    seed: int,
    hidden: int,
    config: dict[str, Any],
) -> bytes:
    arrays = {name: tensor.detach().numpy() for name, tensor in agent.state_dict().items()}
    return encode(
        arrays,
        {
            "format": FORMAT,
            "feature_names": json.dumps(list(feature_names)),
            "action_names": json.dumps(list(action_names)),
            "update": str(update),
            "seed": str(seed),
            "hidden": str(hidden),
            "config": json.dumps(config, sort_keys=True),
        },
    )


def load_agent(
    arrays: Arrays,
    metadata: dict[str, str],
    *,
    feature_names: tuple[str, ...],
    action_names: tuple[str, ...],
) -> Agent | None:
    """The agent stored in a decoded checkpoint, or None when it was trained on other
    features or actions (the run then starts from fresh weights)."""
    if metadata.get("format") != FORMAT:
        return None
    if tuple(json.loads(metadata["feature_names"])) != feature_names:
        return None
    if tuple(json.loads(metadata["action_names"])) != action_names:
        return None
    agent = Agent(len(feature_names), len(action_names), int(metadata["hidden"]))
    agent.load_state_dict(
        {name: torch.from_numpy(np.array(value)) for name, value in arrays.items()}
    )
    return agent


__all__ = ["Arrays", "encode_checkpoint", "load_agent"]

"""A reward model as a fit leaves it: the ensemble to serve, what it was fitted on and how
well it orders the pairs it never saw. Torch-free, so the API process can fit one
(rl/sparse_reward.py) and store it as a training run does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fragrance_ai.rl.exported import ExportedReward
from fragrance_ai.rl.materials import Vector
from fragrance_ai.rl.weights_file import encode

if TYPE_CHECKING:
    from fragrance_ai.rl.sparse_reward import Reading


@dataclass(frozen=True)
class FittedReward:
    model: ExportedReward
    pairs: int
    train_pairs: int
    heldout_pairs: int
    heldout_accuracy: float | None
    train_accuracy: float
    train_loss: float
    # The L2 penalty the members were fitted with (cross-validated or the configured one;
    # for the sparse model, the prior precision of a weight).
    l2: float
    # The sparse model only: its most probable readings of the taste (rl/sparse_reward.py,
    # `Reading`), its posterior mass over its models (another fit's prior), and how
    # undecided that posterior is, in bits.
    readings: tuple[Reading, ...] = ()
    model_masses: Vector | None = None
    entropy_bits: float | None = None
    # ...and the same before any choice (its prior's), and how many choices it read.
    prior_entropy_bits: float | None = None
    choices: int | None = None

    def encoded(self) -> bytes:
        arrays = {
            "reward.weight": self.model.weights.astype(np.float64),
            "reward.mean": self.model.mean,
            "reward.scale": self.model.scale,
        }
        if self.model.centre is not None:
            arrays["reward.centre"] = self.model.centre
        return encode(
            arrays,
            {
                "format": "fragrance-ai-reward/1",
                "feature_names": json.dumps(list(self.model.feature_names)),
                "pairs": str(self.pairs),
                "l2": repr(self.l2),
            },
        )

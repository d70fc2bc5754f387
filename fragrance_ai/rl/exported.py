"""The policy and the reward model as the API process runs them: NumPy arrays read from the
files the trainer wrote, no torch.

The policy's actor is the trainer's MLP (`actor.0`, `actor.2`, `actor.4`, tanh between);
its logits over the action set, masked to the allowed actions, are the policy. Without an
active policy the proposals come from the uniform one: every allowed action equally likely.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fragrance_ai.rl.materials import Vector

Arrays = dict[str, npt.NDArray[np.generic]]
ACTOR_LAYERS = ("actor.0", "actor.2", "actor.4")


class IncompatibleModel(ValueError):
    """A stored model was trained on other features or actions (another catalogue)."""


def _names(metadata: dict[str, str], key: str) -> tuple[str, ...]:
    return tuple(json.loads(metadata.get(key, "[]")))


@dataclass(frozen=True)
class ExportedPolicy:
    layers: tuple[tuple[Vector, Vector], ...]
    feature_names: tuple[str, ...]
    action_names: tuple[str, ...]

    @staticmethod
    def from_arrays(
        arrays: Arrays,
        metadata: dict[str, str],
        *,
        feature_names: tuple[str, ...],
        action_names: tuple[str, ...],
    ) -> ExportedPolicy:
        if _names(metadata, "feature_names") != feature_names:
            raise IncompatibleModel("the policy was trained on other state features")
        if _names(metadata, "action_names") != action_names:
            raise IncompatibleModel("the policy was trained on another action set")
        layers = tuple(
            (
                np.asarray(arrays[f"{name}.weight"], dtype=np.float64),
                np.asarray(arrays[f"{name}.bias"], dtype=np.float64),
            )
            for name in ACTOR_LAYERS
        )
        return ExportedPolicy(layers, feature_names, action_names)

    def logits(self, states: npt.NDArray[np.floating[Any]]) -> Vector:
        hidden = np.asarray(states, dtype=np.float64)
        for index, (weight, bias) in enumerate(self.layers):
            hidden = hidden @ weight.T + bias
            if index < len(self.layers) - 1:
                hidden = np.tanh(hidden)
        return hidden


@dataclass(frozen=True)
class ExportedReward:
    """A Bradley-Terry ensemble: member m scores features x as ((x - mean) / scale) . w_m.

    A formula's score is the members' mean, or `centre`'s when the model has one: the
    sparse model's posterior mean (rl/sparse_reward.py), whose members are draws from its
    posterior and whose mean of a few draws would only approximate it."""

    weights: Vector  # members x features
    mean: Vector
    scale: Vector
    feature_names: tuple[str, ...]
    centre: Vector | None = None

    @staticmethod
    def from_arrays(
        arrays: Arrays, metadata: dict[str, str], *, feature_names: tuple[str, ...]
    ) -> ExportedReward:
        if _names(metadata, "feature_names") != feature_names:
            raise IncompatibleModel("the reward model was trained on other features")
        return ExportedReward(
            weights=np.asarray(arrays["reward.weight"], dtype=np.float64),
            mean=np.asarray(arrays["reward.mean"], dtype=np.float64),
            scale=np.asarray(arrays["reward.scale"], dtype=np.float64),
            feature_names=feature_names,
            centre=(
                np.asarray(arrays["reward.centre"], dtype=np.float64)
                if "reward.centre" in arrays
                else None
            ),
        )

    def member_scores(self, features: Vector) -> Vector:
        """Formulas x members."""
        return np.asarray(((features - self.mean) / self.scale) @ self.weights.T)

    def score(self, features: Vector) -> Vector:
        if self.centre is not None:
            return np.asarray(((features - self.mean) / self.scale) @ self.centre)
        return np.asarray(self.member_scores(features).mean(axis=1))

    def scaled(self, factor: float) -> ExportedReward:
        """The same model with every score divided by `factor`."""
        return ExportedReward(
            self.weights / factor,
            self.mean,
            self.scale,
            self.feature_names,
            None if self.centre is None else self.centre / factor,
        )

    def uncertainty(self, features: Vector) -> Vector:
        return np.asarray(self.member_scores(features).std(axis=1))

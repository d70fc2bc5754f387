"""A stored policy or reward model loaded to propose variations with: NumPy weights (never
torch), the file verified against its row's SHA-256 and checked against the catalogue it
is served for. The API process keeps what it serves loaded between requests
(api/active_models.py); the use cases see it through `ServingModels`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import numpy as np
from sqlalchemy.orm import Session

from fragrance_ai.db.models import Policy, RewardModel
from fragrance_ai.rl.actions import action_names
from fragrance_ai.rl.exported import ExportedPolicy, ExportedReward
from fragrance_ai.rl.features import reward_feature_names, state_feature_names
from fragrance_ai.rl.materials import MaterialTable
from fragrance_ai.rl.weights_file import read_verified

M = TypeVar("M")


class ModelUnavailable(Exception):
    """A stored model cannot be served; the message says why, for the perfumer."""


def load_policy(root: Path, table: MaterialTable, row: Policy) -> ExportedPolicy:
    try:
        arrays, metadata = read_verified(root / row.path, row.sha256)
        policy = ExportedPolicy.from_arrays(
            arrays,
            metadata,
            feature_names=state_feature_names(table),
            action_names=action_names(table),
        )
        # One forward pass now, so weights of the wrong shape fail here and not in a request.
        logits = policy.logits(np.zeros((1, len(policy.feature_names))))
    except (OSError, ValueError, KeyError) as error:
        raise ModelUnavailable(f"policy v{row.version} cannot be loaded: {error}") from error
    if logits.shape != (1, len(policy.action_names)):
        raise ModelUnavailable(f"policy v{row.version} cannot be loaded: wrong output shape")
    return policy


def load_reward(root: Path, table: MaterialTable, row: RewardModel) -> ExportedReward:
    try:
        arrays, metadata = read_verified(root / row.path, row.sha256)
        reward = ExportedReward.from_arrays(
            arrays, metadata, feature_names=reward_feature_names(table)
        )
        scores = reward.member_scores(np.zeros((1, len(reward.feature_names))))
    except (OSError, ValueError, KeyError) as error:
        raise ModelUnavailable(f"reward model v{row.version} cannot be loaded: {error}") from error
    if scores.shape != (1, row.members):
        raise ModelUnavailable(f"reward model v{row.version} cannot be loaded: wrong shape")
    return reward


@dataclass(frozen=True)
class Served(Generic[M]):
    """What is served for one kind of model: the row's id and version, and the loaded
    model; `model` None with a `problem` when the row's file could not be used."""

    row_id: uuid.UUID | None
    version: int | None
    model: M | None
    problem: str | None

    @property
    def used_id(self) -> uuid.UUID | None:
        return None if self.model is None else self.row_id

    @property
    def used_version(self) -> int | None:
        return None if self.model is None else self.version


@dataclass(frozen=True)
class ServedModels:
    policy: Served[ExportedPolicy]
    reward: Served[ExportedReward]

    @property
    def problems(self) -> list[str]:
        return [p for p in (self.policy.problem, self.reward.problem) if p is not None]


class ServingModels(Protocol):
    """The models that serve now: the active policy and the latest reward model (the
    perfumer's own when `user_ref` has one, else every perfumer's), loaded."""

    def current(
        self, session: Session, table: MaterialTable, user_ref: str | None = None
    ) -> ServedModels: ...

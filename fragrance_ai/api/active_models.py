"""The policy and reward model the API proposes variations with, kept loaded between requests.

Each request reads which rows are current (the active policy, the latest reward model); a
file is read again only when that row changes, so activating another policy takes effect on
the next request of every API process, without a restart. A file that is missing, changed
since it was recorded or trained on another catalogue is logged once and the API serves
without it (the initial, uniform policy; no reward model), saying so in its answer: a broken
checkpoint must never turn variations into a 500.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
from sqlalchemy.orm import Session

from fragrance_ai.db.models import Policy, RewardModel
from fragrance_ai.db.training import active_policy, latest_reward_model
from fragrance_ai.platform.metrics import RL_ACTIVE_POLICY_VERSION
from fragrance_ai.rl.actions import action_names
from fragrance_ai.rl.exported import ExportedPolicy, ExportedReward
from fragrance_ai.rl.features import reward_feature_names, state_feature_names
from fragrance_ai.rl.materials import MaterialTable
from fragrance_ai.rl.weights_file import read_verified

log = logging.getLogger(__name__)

M = TypeVar("M")
R = TypeVar("R", Policy, RewardModel)


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


class ActiveModels:
    def __init__(self, policies_root: Path) -> None:
        self._root = policies_root
        self._lock = threading.Lock()
        self._policy: Served[ExportedPolicy] = Served(None, None, None, None)
        self._reward: Served[ExportedReward] = Served(None, None, None, None)
        self._table: MaterialTable | None = None

    def current(self, session: Session, table: MaterialTable) -> ServedModels:
        policy_row = active_policy(session)
        reward_row = latest_reward_model(session)
        with self._lock:
            if table is not self._table:
                # Another catalogue: every cached model has to be checked against it again.
                self._table = table
                self._policy = Served(None, None, None, None)
                self._reward = Served(None, None, None, None)
                RL_ACTIVE_POLICY_VERSION.set(0)
            if _row_id(policy_row) != self._policy.row_id:
                self._policy = self._load(
                    policy_row, lambda row: load_policy(self._root, table, row)
                )
                RL_ACTIVE_POLICY_VERSION.set(self._policy.used_version or 0)
            if _row_id(reward_row) != self._reward.row_id:
                self._reward = self._load(
                    reward_row, lambda row: load_reward(self._root, table, row)
                )
            return ServedModels(self._policy, self._reward)

    @staticmethod
    def _load(row: R | None, load: Callable[[R], M]) -> Served[M]:
        if row is None:
            return Served(None, None, None, None)
        try:
            return Served(row.id, row.version, load(row), None)
        except ModelUnavailable as error:
            # Logged here, once per row: the next request finds the same row id cached.
            log.error("%s; serving without it", error)
            return Served(row.id, row.version, None, f"{error}; served without it")


def _row_id(row: Policy | RewardModel | None) -> uuid.UUID | None:
    return None if row is None else row.id

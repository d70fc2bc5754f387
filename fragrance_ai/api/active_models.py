"""The policy and reward model the API proposes variations with, kept loaded between requests.

Each request reads which rows are current (the active policy, the latest reward model: the
perfumer's own when the request names one who has one, else every perfumer's); a file is
read again only when that row changes, so activating another policy takes effect on
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
from pathlib import Path
from typing import TypeVar

from sqlalchemy.orm import Session

from fragrance_ai.db.models import Policy, RewardModel
from fragrance_ai.db.training import active_policy, latest_reward_model
from fragrance_ai.platform.metrics import RL_ACTIVE_POLICY_VERSION
from fragrance_ai.rl.exported import ExportedPolicy, ExportedReward
from fragrance_ai.rl.materials import MaterialTable
from fragrance_ai.training.serving import (
    ModelUnavailable,
    Served,
    ServedModels,
    load_policy,
    load_reward,
)

log = logging.getLogger(__name__)

M = TypeVar("M")
# Reward models kept loaded, one per perfumer who asked lately (a few kB each).
MAX_CACHED_REWARD_MODELS = 256
R = TypeVar("R", Policy, RewardModel)


class ActiveModels:
    """The API process's models (training.serving.ServingModels), one instance per app."""

    def __init__(self, policies_root: Path) -> None:
        self._root = policies_root
        self._lock = threading.Lock()
        self._policy: Served[ExportedPolicy] = Served(None, None, None, None)
        # Per perfumer (None: every perfumer's model), the reward model last served.
        self._rewards: dict[str | None, Served[ExportedReward]] = {}
        self._table: MaterialTable | None = None

    def current(
        self, session: Session, table: MaterialTable, user_ref: str | None = None
    ) -> ServedModels:
        policy_row = active_policy(session)
        own = latest_reward_model(session, user_ref) if user_ref is not None else None
        whose = user_ref if own is not None else None
        reward_row = own if own is not None else latest_reward_model(session)
        with self._lock:
            if table is not self._table:
                # Another catalogue: every cached model has to be checked against it again.
                self._table = table
                self._policy = Served(None, None, None, None)
                self._rewards = {}
                RL_ACTIVE_POLICY_VERSION.set(0)
            if _row_id(policy_row) != self._policy.row_id:
                self._policy = self._load(
                    policy_row, lambda row: load_policy(self._root, table, row)
                )
                RL_ACTIVE_POLICY_VERSION.set(self._policy.used_version or 0)
            reward = self._rewards.get(whose, Served(None, None, None, None))
            if _row_id(reward_row) != reward.row_id:
                if len(self._rewards) >= MAX_CACHED_REWARD_MODELS:
                    self._rewards.clear()
                reward = self._load(reward_row, lambda row: load_reward(self._root, table, row))
                self._rewards[whose] = reward
            return ServedModels(self._policy, reward)

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

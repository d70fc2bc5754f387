"""What a training run records as it goes: its reward model, every update's figures (the
run's row, TensorBoard event files, metrics), checkpoints with the pruning of their files,
and automatic rollbacks with their reason. The rows go through db/training.py; each is
committed with the file it names written first."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from fragrance_ai.db.models import Policy, RewardModel, TrainingRun
from fragrance_ai.db.training import (
    add_checkpoint,
    add_rollback,
    kept_checkpoints,
    next_policy_version,
)
from fragrance_ai.platform.metrics import (
    RL_APPROX_KL,
    RL_CLIP_FRACTION,
    RL_ENTROPY,
    RL_LOSS,
    RL_REWARD,
    RL_ROLLBACKS,
    RL_UPDATES,
)
from fragrance_ai.rl.evaluation import Evaluation
from fragrance_ai.rl.ppo import UpdateMetrics
from fragrance_ai.rl.scalars import ScalarWriter
from fragrance_ai.rl.weights_file import write_atomically
from fragrance_ai.settings import RLSettings, Settings

ProgressHook = Callable[[UpdateMetrics, int], None]


@dataclass
class Recorder:
    """The update loop's recorder (rl.loop): called after every update, at every checkpoint
    and at every automatic rollback."""

    session: Session
    settings: Settings
    config: RLSettings
    run: TrainingRun
    reward_row: RewardModel
    base: Policy | None
    on_update_hook: ProgressHook | None

    def __post_init__(self) -> None:
        scalars_root = self.settings.scalars_root
        self.scalars = (
            None
            if scalars_root is None
            else ScalarWriter(scalars_root / str(self.run.id), run_name=str(self.run.id))
        )
        self.previous: uuid.UUID | None = self.base.id if self.base is not None else None

    def on_update(self, metrics: UpdateMetrics, total_updates: int) -> None:
        self.run.updates = [*self.run.updates, _finite(metrics.as_dict())]
        self.run.progress = metrics.update / total_updates
        self.run.stage = f"ppo: update {metrics.update}/{total_updates}"
        self.session.commit()
        RL_UPDATES.inc()
        RL_REWARD.set(metrics.reward)
        RL_LOSS.labels("policy").set(metrics.policy_loss)
        RL_LOSS.labels("value").set(metrics.value_loss)
        RL_LOSS.labels("total").set(metrics.loss)
        RL_ENTROPY.set(metrics.entropy)
        RL_APPROX_KL.set(metrics.batch_kl)
        RL_CLIP_FRACTION.set(metrics.clipfrac)
        if self.scalars is not None:
            for tag, value in metrics.scalars().items():
                self.scalars.add_scalar(tag, value, metrics.global_step)
            self.scalars.flush()
        if self.on_update_hook is not None:
            self.on_update_hook(metrics, total_updates)

    def on_checkpoint(self, metrics: UpdateMetrics, blob: bytes, evaluation: Evaluation) -> str:
        version = next_policy_version(self.session)
        relative = f"runs/{self.run.id}/update-{metrics.update:05d}.safetensors"
        sha256 = write_atomically(self.settings.policies_root / relative, blob)
        policy = add_checkpoint(
            self.session,
            self.run,
            version=version,
            parent_id=self.previous,
            reward_model_id=self.reward_row.id,
            at_update=metrics.update,
            path=relative,
            sha256=sha256,
            metrics=_finite(metrics.as_dict()),
            evaluation=evaluation.as_dict(),
        )
        self.previous = policy.id
        self._prune()
        self.session.commit()
        if self.scalars is not None:
            self.scalars.add_scalar("eval/mean_return", evaluation.mean_return, metrics.global_step)
        return str(policy.id)

    def on_rollback(self, metrics: UpdateMetrics, reason: str, to_checkpoint: str | None) -> None:
        add_rollback(
            self.session,
            self.run,
            at_update=metrics.update,
            to_policy_id=uuid.UUID(to_checkpoint) if to_checkpoint else None,
            reason=reason,
            metrics=_finite(metrics.as_dict()),
        )
        self.session.commit()
        RL_ROLLBACKS.labels(_rollback_kind(reason)).inc()

    def _prune(self) -> None:
        """Keeps the files of the best and the last N of this run; never the active one's."""
        policies = kept_checkpoints(self.session, self.run)
        keep = {policy.id for policy in policies[-self.config.checkpoints.keep_last :]}
        best = max(policies, key=lambda p: (p.evaluation["mean_return"], -p.at_update))
        keep.add(best.id)
        for policy in policies:
            if policy.id in keep or policy.active:
                continue
            (self.settings.policies_root / policy.path).unlink(missing_ok=True)
            policy.kept = False

    def close(self) -> None:
        if self.scalars is not None:
            self.scalars.close()


def _rollback_kind(reason: str) -> str:
    if "KL" in reason:
        return "approx_kl"
    if reason.startswith("evaluated"):
        return "evaluated_reward"
    return "loss"


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: an undefined figure (explained variance of constant returns) is
    stored as null."""
    return {
        key: (None if isinstance(value, float) and not np.isfinite(value) else value)
        for key, value in values.items()
    }

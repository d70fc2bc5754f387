"""The training run's loop around PPO: checkpoints every K updates, and automatic rollback.

After each update the loop checks the regression conditions from config: the approximate KL
over the whole batch, a loss that is not finite or too large, and at each checkpoint the
policy's evaluated reward against the best checkpoint's so far. When one holds, the
weights, optimiser moments and reward scale go back to the last good checkpoint (or the
run's start), and the rollback is recorded with the condition that held; training then
goes on from there. Persistence is the caller's (`RunRecorder`): this module never touches
the database or a path, so it is tested as is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fragrance_ai.rl.evaluation import Evaluation
from fragrance_ai.rl.ppo import Agent, PPOTrainer, UpdateMetrics
from fragrance_ai.settings import RLSettings


class RunRecorder(Protocol):
    def on_update(self, metrics: UpdateMetrics, total_updates: int) -> None: ...

    def on_checkpoint(self, metrics: UpdateMetrics, blob: bytes, evaluation: Evaluation) -> str:
        """Stores the checkpoint; returns its id."""

    def on_rollback(
        self, metrics: UpdateMetrics, reason: str, to_checkpoint: str | None
    ) -> None: ...


@dataclass
class LoopResult:
    best_checkpoint: str | None = None
    best_evaluation: Evaluation | None = None
    checkpoints: list[tuple[str, int, Evaluation]] = field(default_factory=list)
    rollbacks: list[tuple[int, str]] = field(default_factory=list)
    last_metrics: UpdateMetrics | None = None


@dataclass
class _Good:
    checkpoint: str | None
    snapshot: dict[str, Any]


def regression(metrics: UpdateMetrics, config: RLSettings) -> str | None:
    """Why this update must be undone, or None."""
    limits = config.rollback
    if not math.isfinite(metrics.loss) or not math.isfinite(metrics.batch_kl):
        return f"loss {metrics.loss} or approximate KL {metrics.batch_kl} is not finite"
    if metrics.batch_kl > limits.max_approx_kl:
        return f"approximate KL {metrics.batch_kl:.4g} > {limits.max_approx_kl:g}"
    if abs(metrics.loss) > limits.max_loss:
        return f"loss {metrics.loss:.4g} beyond {limits.max_loss:g}"
    return None


def run_updates(
    trainer: PPOTrainer,
    config: RLSettings,
    *,
    total_updates: int,
    evaluate: Callable[[Agent], Evaluation],
    encode: Callable[[int], bytes],
    recorder: RunRecorder,
) -> LoopResult:
    result = LoopResult()
    good = _Good(checkpoint=None, snapshot=trainer.snapshot())
    every = config.checkpoints.every_updates
    drill = config.drill
    for update in range(1, total_updates + 1):
        spike = drill is not None and update == drill.lr_spike_at_update
        metrics = trainer.update(
            update, total_updates, lr_factor=drill.lr_spike_factor if drill and spike else 1.0
        )
        result.last_metrics = metrics
        recorder.on_update(metrics, total_updates)
        reason = regression(metrics, config)
        if reason is None and (update % every == 0 or update == total_updates):
            evaluation = evaluate(trainer.agent)
            best = result.best_evaluation
            drop_limit = config.rollback.max_reward_drop
            if best is not None and evaluation.mean_return < best.mean_return - drop_limit:
                reason = (
                    f"evaluated reward {evaluation.mean_return:.4g} fell more than "
                    f"{drop_limit:g} below the best checkpoint's {best.mean_return:.4g}"
                )
            else:
                checkpoint = recorder.on_checkpoint(metrics, encode(update), evaluation)
                good = _Good(checkpoint=checkpoint, snapshot=trainer.snapshot())
                result.checkpoints.append((checkpoint, update, evaluation))
                if best is None or evaluation.mean_return > best.mean_return:
                    result.best_checkpoint, result.best_evaluation = checkpoint, evaluation
        if reason is not None:
            trainer.restore(good.snapshot)
            result.rollbacks.append((update, reason))
            recorder.on_rollback(metrics, reason, good.checkpoint)
    return result

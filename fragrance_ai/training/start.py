"""Starting a training run: on request (POST /v1/training-runs) or after enough new
preferences (POST /v1/feedback). At most one run is queued or started at any time."""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fragrance_ai.db.models import TrainingRun
from fragrance_ai.db.training import (
    add_training_run,
    lock_training_runs,
    preferences_since_last_run,
    unfinished_training_run,
)
from fragrance_ai.jobs.lifecycle import record_failure
from fragrance_ai.jobs.submit import enqueue_training
from fragrance_ai.queue.base import QueueUnavailable
from fragrance_ai.runtime import Runtime
from fragrance_ai.settings import RLSettings

log = logging.getLogger(__name__)

# The trainer seeds torch generators with multiples of a run's seed: kept well below 2**64.
MAX_RUN_SEED = 2**31 - 1

# Within one process the check "no run is queued" and the insert that follows must not
# interleave; lock_training_runs does the same across processes on PostgreSQL.
_creating = threading.Lock()


class RunInProgress(Exception):
    def __init__(self, run: TrainingRun) -> None:
        super().__init__(f"training run {run.id} is {run.status}")
        self.run = run


def draw_seed() -> int:
    return secrets.randbelow(MAX_RUN_SEED + 1)


def training_config(
    rl: RLSettings, *, total_updates: int | None = None, drill: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The profile's RL settings with a request's overrides, validated as settings are
    (pydantic's ValidationError when an override is out of range)."""
    config = rl.model_dump(mode="json")
    if total_updates is not None:
        config["ppo"]["total_updates"] = total_updates
    if drill is not None:
        config["drill"] = drill
    return RLSettings.model_validate(config).model_dump(mode="json")


def start_training_run(
    session: Session,
    runtime: Runtime,
    *,
    seed: int,
    user_ref: str | None,
    config: dict[str, Any],
) -> TrainingRun:
    """A manual run; RunInProgress when one is queued or started, QueueUnavailable (the run
    kept, marked failed) when the queue refuses it."""
    with _creating:
        lock_training_runs(session)
        busy = unfinished_training_run(session)
        if busy is not None:
            session.rollback()
            raise RunInProgress(busy)
        run = add_training_run(
            session, trigger="manual", seed=seed, user_ref=user_ref, config=config
        )
        session.commit()
    _enqueue(session, runtime, run)
    return run


def start_auto_run(session: Session, runtime: Runtime, *, stamp: datetime) -> TrainingRun | None:
    """A run once `rl.auto_train_every` preferences came in since the last run was created,
    unless one is queued or started. Stamped with the choice's time (`stamp`), which is how
    that choice finds it again. A queue that refuses it leaves the run failed, not the
    choice: the caller gets the run either way."""
    every = runtime.settings.rl.auto_train_every
    if every <= 0:
        return None
    with _creating:
        lock_training_runs(session)
        if (
            unfinished_training_run(session) is not None
            or preferences_since_last_run(session) < every
        ):
            session.rollback()
            return None
        run = add_training_run(
            session,
            trigger="auto",
            seed=draw_seed(),
            user_ref=None,
            config=training_config(runtime.settings.rl),
            created_at=stamp,
        )
        session.commit()
    # The choice that started it stands either way; the run is returned as failed.
    with contextlib.suppress(QueueUnavailable):
        _enqueue(session, runtime, run)
    return run


def _enqueue(session: Session, runtime: Runtime, run: TrainingRun) -> None:
    # Committed before it is enqueued: the worker must find both rows.
    assert run.job_id is not None
    try:
        enqueue_training(runtime, run.job_id)
    except QueueUnavailable as error:
        record_failure(session, str(run.job_id), f"could not enqueue: {error}")
        log.error("training run %s not enqueued: %s", run.id, error)
        raise

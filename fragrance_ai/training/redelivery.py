"""A training job delivered again. RQ delivers a job at least once: a worker killed mid-run
leaves the job started, and the reconciler delivers it again. The run's side effects must
happen once."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from fragrance_ai.db.models import JobStatus, Policy, TrainingRun
from fragrance_ai.db.training import (
    checkpoints_of_run,
    discard_attempt,
    reward_models_of_run,
    rollback_count,
)
from fragrance_ai.settings import Settings

log = logging.getLogger(__name__)


def start_over(session: Session, settings: Settings, run: TrainingRun) -> bool:
    """What an earlier attempt wrote (reward model, checkpoints, rollbacks, updates) is
    removed; training is deterministic under run.seed, so the redo writes what one attempt
    would have. False when the run is done and must not be trained again."""
    if run.status == JobStatus.FINISHED.value:
        # Finished and activated in one commit; the worker died before it marked the job.
        return False
    policies = checkpoints_of_run(session, run)
    served = next((policy for policy in policies if policy.activated_at is not None), None)
    if served is not None:
        _finish_as_served(session, run, served)
        return False
    rewards = reward_models_of_run(session, run)
    rollbacks = rollback_count(session, run)
    if not (policies or rewards or rollbacks or run.updates or run.reward_model_id):
        return True
    log.info(
        "training run %s: an earlier attempt left %d updates, %d checkpoints, %d reward "
        "models and %d rollbacks; starting over",
        run.id,
        len(run.updates),
        len(policies),
        len(rewards),
        rollbacks,
    )
    # A reward model variations were proposed with stays, and the redo fits its own.
    removed_rewards = discard_attempt(session, run, rewards)
    run.updates, run.metrics, run.error = [], None, None
    run.progress, run.stage, run.base_policy_id, run.finished_at = 0.0, None, None, None
    session.commit()
    # Files go once their rows are gone: a failed commit leaves both. The redo writes its
    # checkpoints to the same paths anyway (atomically); removing them now keeps a pruned
    # or never-reached update's file of the earlier attempt from lingering.
    root = settings.policies_root
    for path in [policy.path for policy in policies] + [r.path for r in removed_rewards]:
        (root / path).unlink(missing_ok=True)
    if settings.scalars_root is not None:
        shutil.rmtree(settings.scalars_root / str(run.id), ignore_errors=True)
    return True


def _finish_as_served(session: Session, run: TrainingRun, served: Policy) -> None:
    """A checkpoint of this run was activated before the job came back (the run commits
    activation with its end, so an operator activated it mid-run): perfumers may have been
    proposed variations with it, so it is neither removed nor trained over. The run ends
    with what the earlier attempt recorded, saying why."""
    run.metrics = {
        **(run.metrics or {}),
        "updates": len(run.updates),
        "activated_policy_id": str(served.id),
        "decision": (
            f"kept version {served.version}, a checkpoint of an earlier attempt of this run "
            "that was activated before the job was delivered again; not trained again"
        ),
    }
    run.status = JobStatus.FINISHED.value
    run.stage = "finished"
    run.progress = 1.0
    run.finished_at = datetime.now(UTC)
    session.commit()

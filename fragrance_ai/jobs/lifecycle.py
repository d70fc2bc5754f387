"""A job's lifecycle, and its one owner: a step claims the job's row, and the job finishes
or fails here and nowhere else.

The row is the source of truth; Redis only carries the work. A step claims the row (status
`started`, its stage, one more attempt), and when it ends the job is finished, failed for
good (`PermanentJobError`, or the last retry spent), or left for RQ to retry.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fragrance_ai.db.models import Job, JobKind, JobStatus, TrainingRun
from fragrance_ai.platform.logs import job_context
from fragrance_ai.platform.metrics import JOB_DURATION, JOB_STEP_DURATION
from fragrance_ai.queue import attempts_remaining
from fragrance_ai.runtime import Runtime

log = logging.getLogger(__name__)


class PermanentJobError(Exception):
    """Retrying cannot help (bad data); the job fails at once with this message."""


@contextmanager
def running_step(session: Session, job_id: str, step: str, progress: float) -> Iterator[Job | None]:
    """Claims the job row for one step; yields None when there is nothing left to do. Every
    line logged meanwhile carries the job's id."""
    with job_context(job_id):
        yield from _claimed_step(session, job_id, step, progress)


def _claimed_step(
    session: Session, job_id: str, step: str, progress: float
) -> Iterator[Job | None]:
    job = session.get(Job, uuid.UUID(job_id))
    if job is None:
        log.error("job %s: no such job row; dropping step %s", job_id, step)
        yield None
        return
    if job.status in (JobStatus.FINISHED, JobStatus.FAILED):
        # RQ delivers at least once; a finished job must not be redone.
        log.info("job %s is already %s; step %s skipped", job_id, job.status, step)
        yield None
        return
    begin(job, step, progress)
    session.commit()
    log.info("step %s started", step)
    started = time.perf_counter()
    outcome = "error"
    try:
        yield job
        session.commit()
        outcome = "ok"
        log.info("step %s done in %.2f s", step, time.perf_counter() - started)
    except PermanentJobError as error:
        session.rollback()
        record_failure(session, job_id, f"{step}: {error}")
    except Exception as error:
        session.rollback()
        if attempts_remaining() == 0:
            record_failure(session, job_id, f"{step}: {type(error).__name__}: {error}")
        raise
    finally:
        JOB_STEP_DURATION.labels(step=step, outcome=outcome).observe(time.perf_counter() - started)


def record_failure(session: Session, job_id: str, reason: str) -> None:
    job = session.get(Job, uuid.UUID(job_id))
    if job is not None:
        fail(session, job, reason)


def fail(session: Session, job: Job, reason: str) -> None:
    """The job fails for good with `reason`, and a training job's run with it; committed."""
    if job.status == JobStatus.FINISHED.value:
        # Another delivery of the same step finished it (this one lost the race on the
        # formulas' keys): the job is done, not failed.
        log.info("job %s already finished; not recording %s", job.id, reason)
        return
    job.error = reason[:2000]
    finish(job, JobStatus.FAILED)
    if job.kind == JobKind.TRAIN_POLICY.value:
        # A run left `started` by a killed worker would refuse every new run (409) for ever.
        run = session.scalar(select(TrainingRun).where(TrainingRun.job_id == job.id))
        if run is not None and run.status not in (JobStatus.FINISHED, JobStatus.FAILED):
            run.status = JobStatus.FAILED.value
            run.error = run.error or job.error
            run.finished_at = job.finished_at
    session.commit()
    log.warning("job %s failed: %s", job.id, reason)


def fail_job(runtime: Runtime, job_id: uuid.UUID, reason: str) -> None:
    with runtime.sessions() as session:
        record_failure(session, str(job_id), reason)


def begin(job: Job, stage: str, progress: float) -> None:
    """The job is running `stage`: one more attempt, started now unless it started before."""
    job.status = JobStatus.STARTED.value
    job.stage = stage
    job.progress = max(job.progress, progress)
    # Counted in SQL: two deliveries claiming at once both count (`+= 1` in Python would
    # write the same number twice). The attribute reloads when next read.
    job.attempts = Job.attempts + 1
    job.started_at = job.started_at or datetime.now(UTC)


def finish(job: Job, status: JobStatus) -> None:
    now = datetime.now(UTC)
    job.status = status.value
    job.finished_at = now
    if status is JobStatus.FINISHED:
        job.progress = 1.0
    elapsed_s = (now - job.created_at).total_seconds()
    JOB_DURATION.labels(kind=job.kind, status=status.value).observe(elapsed_s)

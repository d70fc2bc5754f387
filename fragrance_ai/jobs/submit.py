"""Putting work on the queues: the step a job needs next, a training run's one step, and
the jobs a restart or the reconciler hands back to the workers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fragrance_ai.db.models import Brief, Job, JobKind, JobStatus
from fragrance_ai.jobs.steps import design_formulas, parse_brief, train_policy
from fragrance_ai.queue import QueueName
from fragrance_ai.queue.base import StepFunction
from fragrance_ai.runtime import Runtime


def enqueue_training(runtime: Runtime, job_id: uuid.UUID) -> None:
    runtime.queue.enqueue(
        QueueName.RL_TRAINING,
        train_policy,
        str(job_id),
        timeout_s=runtime.settings.rl.run_timeout_s,
    )


@dataclass(frozen=True)
class NextStep:
    """The step an unfinished job needs now: what the reconciler and a restart re-enqueue."""

    queue: QueueName
    function: StepFunction
    timeout_s: int | None = None

    @property
    def name(self) -> str:
        return self.function.__name__


def next_step(runtime: Runtime, session: Session, job: Job) -> NextStep:
    """A brief not yet read needs parse_brief; a read one design_formulas (parse_brief
    hands over once the brief is stored); a training job its one step."""
    if job.kind == JobKind.TRAIN_POLICY.value:
        return NextStep(QueueName.RL_TRAINING, train_policy, runtime.settings.rl.run_timeout_s)
    brief = session.get(Brief, job.brief_id) if job.brief_id else None
    if brief is not None and brief.parsed is not None:
        return NextStep(QueueName.RL_TRAINING, design_formulas)
    return NextStep(QueueName.LLM_INFERENCE, parse_brief)


def enqueue_step(runtime: Runtime, job_id: uuid.UUID, step: NextStep) -> None:
    runtime.queue.enqueue(step.queue, step.function, str(job_id), timeout_s=step.timeout_s)


def unfinished_jobs(session: Session) -> list[Job]:
    statement = (
        select(Job)
        .where(Job.status.in_([JobStatus.QUEUED.value, JobStatus.STARTED.value]))
        .order_by(Job.created_at)
    )
    return list(session.scalars(statement))


def resume_unfinished_jobs(runtime: Runtime) -> int:
    """Re-enqueue jobs the database says are unfinished; for the in-process queue, whose
    waiting work died with the previous process. (RQ workers run the reconciler instead.)"""
    with runtime.sessions() as session:
        unfinished = unfinished_jobs(session)
        for job in unfinished:
            enqueue_step(runtime, job.id, next_step(runtime, session, job))
        return len(unfinished)

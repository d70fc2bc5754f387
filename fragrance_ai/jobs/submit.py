"""Putting work on the queues: a perfumer's brief (stored with its job, then queued), the
step a job needs next, a training run's one step, and the jobs a restart or the reconciler
hands back to the workers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fragrance_ai.db.models import Brief, Job, JobKind, JobStatus
from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.products import ProductType
from fragrance_ai.jobs.lifecycle import fail
from fragrance_ai.jobs.steps import design_formulas, parse_brief, train_policy
from fragrance_ai.queue import QueueName
from fragrance_ai.queue.base import QueueUnavailable, StepFunction
from fragrance_ai.runtime import Runtime
from fragrance_ai.settings import RequestedMode


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


@dataclass(frozen=True)
class BriefSubmission:
    """A perfumer's brief as submitted: the text, what they asked for, and, when they
    corrected a reading, the brief as corrected (then it is not read again)."""

    text: str
    mode: RequestedMode
    product: ProductType | None = None
    dosage_percent: float | None = None
    seed: int | None = None
    revises: uuid.UUID | None = None
    corrected: CreativeBrief | None = None


class NoSuchBrief(Exception):
    """The submission revises a brief that does not exist."""


class NotQueued(Exception):
    """The brief was saved but its job could not be queued (the job is failed, saying why)."""

    def __init__(self, saved_id: uuid.UUID, reason: str) -> None:
        super().__init__(reason)
        self.saved_id = saved_id


def accept_brief(
    session: Session, runtime: Runtime, submission: BriefSubmission
) -> tuple[uuid.UUID, uuid.UUID]:
    """Stores the brief and its job, then queues the job's first step: (brief id, job id)."""
    if submission.revises is not None and session.get(Brief, submission.revises) is None:
        raise NoSuchBrief(f"no brief {submission.revises}")
    brief = Brief(
        id=uuid.uuid4(),
        text=submission.text,
        mode=submission.mode.value,
        requested_product=submission.product.value if submission.product else None,
        requested_dosage_percent=submission.dosage_percent,
        seed=submission.seed,
    )
    corrected = submission.corrected
    if corrected is not None:
        if corrected.dosage_percent is None and submission.dosage_percent is not None:
            corrected = corrected.model_copy(update={"dosage_percent": submission.dosage_percent})
        # Parsed already: the job goes straight on to design (parse_brief skips reading).
        brief.parsed = corrected.model_dump(mode="json")
        brief.parser = "perfumer"
        brief.reading = {"corrected_by_perfumer": True}
    if submission.revises is not None:
        brief.reading = {**(brief.reading or {}), "revises": str(submission.revises)}
    job = Job(id=uuid.uuid4(), kind=JobKind.DESIGN_FROM_BRIEF.value, brief_id=brief.id)
    session.add_all([brief, job])
    # Committed before it is enqueued: a worker must find the row, and the brief is kept
    # even when the queue then refuses the work.
    session.commit()
    try:
        runtime.queue.enqueue(QueueName.LLM_INFERENCE, parse_brief, str(job.id))
    except QueueUnavailable as error:
        fail(session, job, f"could not enqueue: {error}")
        raise NotQueued(brief.id, str(error)) from error
    return brief.id, job.id

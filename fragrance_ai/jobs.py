"""The job functions: the only door between the API and the workers.

Each function is one step of a job, takes the job's id (never an ORM object), and records
its progress in the job's row, which stays the source of truth; Redis only carries the work.
A brief is parsed on the `llm_inference` queue, then its formulas are designed on
`rl_training`, where the optimiser will run.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fragrance_ai.db.models import Brief, Job, JobKind, JobStatus, TrainingRun
from fragrance_ai.db.repositories import (
    as_domain_formula,
    formulas_for_brief,
    save_designed_formula,
)
from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.products import ProductType
from fragrance_ai.logs import job_context
from fragrance_ai.metrics import COMPLIANCE_VERDICTS, JOB_DURATION, JOB_STEP_DURATION
from fragrance_ai.queue import QueueName, attempts_remaining
from fragrance_ai.queue.base import StepFunction
from fragrance_ai.runtime import Runtime, current_runtime
from fragrance_ai.settings import InferenceMode, RequestedMode

log = logging.getLogger(__name__)


class PermanentJobError(Exception):
    """Retrying cannot help (bad data); the job fails at once with this message."""


# What the API tells a perfumer whose text reads as no brief at all.
NOT_UNDERSTOOD = (
    "Nothing in the text reads as a fragrance brief. Say what it should smell like: "
    "families (citrus, woody, floral ...), notes or materials (bergamot, vetiver), a mood or "
    "season, and the product (eau de parfum, candle ...), in English or Korean."
)


def parse_brief(job_id: str) -> None:
    runtime = current_runtime()
    understood = False
    with runtime.sessions() as session, _step(session, job_id, "parse_brief", 0.1) as job:
        if job is None:
            return
        brief_row = _brief_of(session, job)
        if brief_row.parsed is None:
            # Briefs waiting behind this one are read in the same generate call; their own
            # jobs then find them read and go straight on to design.
            mates = _waiting_briefs(session, brief_row, runtime.settings.llm.batch_size - 1)
            _read_briefs(runtime, [brief_row, *mates])
        brief = CreativeBrief.model_validate(brief_row.parsed)
        understood = brief.understood
        if understood:
            job.progress = 0.4
        else:
            # Not a failure: the job is done, and its result says what a brief needs.
            job.result = {
                "brief_id": str(brief_row.id),
                "brief_understood": False,
                "formula_ids": [],
                "needs": NOT_UNDERSTOOD,
                "reading": brief_row.reading,
            }
            _finish(job, JobStatus.FINISHED)
    if understood:
        runtime.queue.enqueue(QueueName.RL_TRAINING, design_formulas, job_id)


def _waiting_briefs(session: Session, leader: Brief, limit: int) -> list[Brief]:
    """Unread briefs whose jobs are still queued, oldest first; rows another worker is
    reading are skipped (PostgreSQL's SKIP LOCKED; SQLite has one writer anyway)."""
    if limit <= 0:
        return []
    query = (
        select(Brief)
        .join(Job, Job.brief_id == Brief.id)
        .where(
            Job.status == JobStatus.QUEUED.value,
            Brief.parsed.is_(None),
            Brief.id != leader.id,
        )
        .order_by(Job.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Brief)
    )
    return list(session.scalars(query).unique())


def _read_briefs(runtime: Runtime, rows: list[Brief]) -> None:
    from fragrance_ai.llm.ensemble import BriefRequest

    requests = [
        BriefRequest(
            text=row.text,
            mode=RequestedMode(row.mode),
            product=ProductType(row.requested_product) if row.requested_product else None,
        )
        for row in rows
    ]
    readings = runtime.brief_ensemble.read_many(requests)
    for row, reading in zip(rows, readings, strict=True):
        brief = reading.brief
        if row.requested_dosage_percent is not None:
            brief = brief.model_copy(
                update={
                    "dosage_percent": row.requested_dosage_percent,
                    "defaults_used": [d for d in brief.defaults_used if d != "dosage_percent"],
                }
            )
        row.parsed = brief.model_dump(mode="json")
        row.mode = reading.mode.value
        row.reading = reading.path
        row.parser = "ensemble:" + reading.mode.value


def design_formulas(job_id: str) -> None:
    # The optimiser brings DEAP: imported here, on the worker, never by the API process,
    # which imports this module to enqueue.
    from fragrance_ai.optimize.design import design_options
    from fragrance_ai.optimize.evaluate import Objective
    from fragrance_ai.optimize.search import GenerationStats, SearchConfig

    runtime = current_runtime()
    with runtime.sessions() as session, _step(session, job_id, "design_formulas", 0.5) as job:
        if job is None:
            return
        brief_row = _brief_of(session, job)
        if brief_row.parsed is None:
            raise PermanentJobError("the brief has not been parsed")
        brief = CreativeBrief.model_validate(brief_row.parsed)
        mode = InferenceMode(brief_row.mode)
        search = runtime.settings.optimizer.modes[mode]
        # The brief's seed, or one per job: a rerun of the job (a retry) searches exactly the
        # same way either way.
        config = SearchConfig(
            population=search.population,
            generations=search.generations,
            objectives=tuple(Objective(name) for name in search.objectives),
            mutation_steps=search.mutation_steps,
            seed=brief_row.seed if brief_row.seed is not None else job.id.int % 2**32,
        )
        job_row = job

        def report(stats: GenerationStats) -> None:
            job_row.stage = f"design_formulas: generation {stats.generation}/{config.generations}"
            job_row.progress = 0.5 + 0.45 * stats.generation / max(config.generations, 1)
            session.commit()

        made_before = [as_domain_formula(row) for row in formulas_for_brief(session, brief_row.id)]
        design = design_options(
            runtime.catalogue,
            brief,
            config,
            count=runtime.settings.optimizer.options,
            seeds=runtime.settings.designer.variants,
            made_before=made_before,
            on_generation=report,
        )
        if not design.options:
            raise PermanentJobError("no formula could be designed: " + "; ".join(design.unmet))
        rows = []
        for index, option in enumerate(design.options):
            COMPLIANCE_VERDICTS.labels("design", option.designed.compliance.verdict.value).inc()
            rows.append(
                save_designed_formula(
                    session,
                    option.designed,
                    # Keyed by the job: a step run twice at once (at-least-once delivery)
                    # collides on the primary key instead of storing its options twice.
                    formula_id=option_formula_id(job.id, index),
                    option_index=index,
                    designer=option.produced_by,
                    brief_id=brief_row.id,
                    job_id=job.id,
                    scores=option.scores or None,
                    search={
                        "mode": mode.value,
                        "seed": config.seed,
                        "generation": option.generation,
                    },
                )
            )
        session.flush()
        job.result = {
            "brief_id": str(brief_row.id),
            "formula_ids": [str(row.id) for row in rows],
            "options": [
                {
                    "formula_id": str(row.id),
                    "produced_by": option.produced_by,
                    "scores": option.scores,
                    "generation": option.generation,
                }
                for row, option in zip(rows, design.options, strict=True)
            ],
            "search": {
                "mode": mode.value,
                "seed": config.seed,
                "population": config.population,
                "objectives": [objective.value for objective in config.objectives],
                "evaluations": design.evaluations,
                "generations": [asdict(stats) for stats in design.generations],
                "unmet": design.unmet,
            },
            "brief_understood": brief.understood,
            "defaults_used": list(brief.defaults_used),
            # Notes the text asks for that no catalogue material matches: said, not dropped.
            "unmatched_notes": list(brief.unmatched_notes),
            "hints": list(brief.hints),
            "parser": brief_row.parser,
            "reading": brief_row.reading,
        }
        _finish(job, JobStatus.FINISHED)


def option_formula_id(job_id: uuid.UUID, index: int) -> uuid.UUID:
    return uuid.uuid5(job_id, f"option:{index}")


def train_policy(job_id: str) -> None:
    """A training run (fragrance_ai.training): reward model, PPO, checkpoints, rollbacks.
    torch comes with it: imported here, on the worker."""
    from fragrance_ai.training import TrainingRefused, run_training

    runtime = current_runtime()
    with runtime.sessions() as session, _step(session, job_id, "train_policy", 0.0) as job:
        if job is None:
            return
        try:
            run = run_training(runtime, session, job)
        except TrainingRefused as error:
            raise PermanentJobError(str(error)) from error
        job.result = {"training_run_id": str(run.id), **(run.metrics or {})}
        _finish(job, JobStatus.FINISHED)


def enqueue_training(runtime: Runtime, job_id: uuid.UUID) -> None:
    runtime.queue.enqueue(
        QueueName.RL_TRAINING,
        train_policy,
        str(job_id),
        timeout_s=runtime.settings.rl.run_timeout_s,
    )


@contextmanager
def _step(session: Session, job_id: str, step: str, progress: float) -> Iterator[Job | None]:
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
    job.status = JobStatus.STARTED.value
    job.stage = step
    job.progress = max(job.progress, progress)
    # Counted in SQL: two deliveries claiming at once both count (`+= 1` in Python would
    # write the same number twice). The attribute reloads when next read.
    job.attempts = Job.attempts + 1
    job.started_at = job.started_at or datetime.now(UTC)
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
        _record_failure(session, job_id, f"{step}: {error}")
    except Exception as error:
        session.rollback()
        if attempts_remaining() == 0:
            _record_failure(session, job_id, f"{step}: {type(error).__name__}: {error}")
        raise
    finally:
        JOB_STEP_DURATION.labels(step=step, outcome=outcome).observe(time.perf_counter() - started)


def _brief_of(session: Session, job: Job) -> Brief:
    brief = session.get(Brief, job.brief_id) if job.brief_id else None
    if brief is None:
        raise PermanentJobError("the job has no brief")
    return brief


def _record_failure(session: Session, job_id: str, reason: str) -> None:
    job = session.get(Job, uuid.UUID(job_id))
    if job is None:
        return
    if job.status == JobStatus.FINISHED.value:
        # Another delivery of the same step finished it (this one lost the race on the
        # formulas' keys): the job is done, not failed.
        log.info("job %s already finished; not recording %s", job_id, reason)
        return
    job.error = reason[:2000]
    _finish(job, JobStatus.FAILED)
    if job.kind == JobKind.TRAIN_POLICY.value:
        # A run left `started` by a killed worker would refuse every new run (409) for ever.
        run = session.scalar(select(TrainingRun).where(TrainingRun.job_id == job.id))
        if run is not None and run.status not in (JobStatus.FINISHED, JobStatus.FAILED):
            run.status = JobStatus.FAILED.value
            run.error = run.error or job.error
            run.finished_at = job.finished_at
    session.commit()
    log.warning("job %s failed: %s", job_id, reason)


def fail_job(runtime: Runtime, job_id: uuid.UUID, reason: str) -> None:
    with runtime.sessions() as session:
        _record_failure(session, str(job_id), reason)


def _finish(job: Job, status: JobStatus) -> None:
    now = datetime.now(UTC)
    job.status = status.value
    job.finished_at = now
    if status is JobStatus.FINISHED:
        job.progress = 1.0
    elapsed_s = (now - job.created_at).total_seconds()
    JOB_DURATION.labels(kind=job.kind, status=status.value).observe(elapsed_s)


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

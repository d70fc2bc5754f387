"""The job steps: plain functions that RQ (or the in-process queue) runs on a worker.

Each takes the job's id (never an ORM object) and runs inside `running_step`, which claims
the job's row and records how the step ended (jobs/lifecycle.py). A brief is read on the
`llm_inference` queue, then its formulas are designed on `rl_training`; a training run is
one step on `rl_training`. The models no design waits for read the brief afterwards, on
`llm_inference` too (`read_after_design`, which takes brief ids and owns no job's status).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import asdict
from functools import partial
from typing import TYPE_CHECKING, TypeGuard

from sqlalchemy import select
from sqlalchemy.orm import Session

from fragrance_ai.db.models import Brief, Job, JobStatus
from fragrance_ai.db.repositories import (
    as_domain_formula,
    formulas_for_brief,
    save_designed_formula,
)
from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.products import ProductType
from fragrance_ai.jobs.lifecycle import PermanentJobError, finish, running_step
from fragrance_ai.jobs.results import (
    BriefJobResult,
    DesignedOption,
    SearchGeneration,
    SearchRecord,
    TrainingJobResult,
    needs_direction,
    reading_notes,
    stored,
)
from fragrance_ai.llm.late_reading import failed_record, pending_record
from fragrance_ai.platform.metrics import COMPLIANCE_VERDICTS
from fragrance_ai.queue import QueueName
from fragrance_ai.runtime import Runtime, current_runtime
from fragrance_ai.settings import InferenceMode, RequestedMode

if TYPE_CHECKING:
    from fragrance_ai.llm.ensemble import BriefRequest

log = logging.getLogger(__name__)


def parse_brief(job_id: str) -> None:
    runtime = current_runtime()
    understood = False
    read_late: list[uuid.UUID] = []
    with runtime.sessions() as session, running_step(session, job_id, "parse_brief", 0.1) as job:
        if job is None:
            return
        brief_row = _brief_of(session, job)
        if brief_row.parsed is None:
            # Briefs waiting behind this one are read in the same generate call; their own
            # jobs then find them read and go straight on to design.
            mates = _waiting_briefs(session, brief_row, runtime.settings.llm.batch_size - 1)
            read_late = _read_briefs(runtime, [brief_row, *mates])
        brief = CreativeBrief.model_validate(brief_row.parsed)
        understood = brief.understood
        if understood:
            job.progress = 0.4
        else:
            # Not a failure: the job is done, and its result says what was read and what a
            # brief needs; no formula is designed from made-up families.
            job.result = stored(
                BriefJobResult(
                    brief_id=brief_row.id,
                    brief_understood=False,
                    formula_ids=[],
                    needs=needs_direction(brief),
                    unread_words=list(brief.unread_words),
                    reading=brief_row.reading,
                )
            )
            finish(job, JobStatus.FINISHED)
    if understood:
        runtime.queue.enqueue(QueueName.RL_TRAINING, design_formulas, job_id)
    if read_late:
        # Once the models have loaded (never holding this queue's worker meanwhile), and
        # behind the briefs already waiting to be read: their designs start first.
        brief_ids = ",".join(str(brief_id) for brief_id in read_late)
        runtime.brief_ensemble.when_loaded(
            partial(runtime.queue.enqueue, QueueName.LLM_INFERENCE, read_after_design, brief_ids)
        )


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


def _request_of(row: Brief) -> BriefRequest:
    from fragrance_ai.llm.ensemble import BriefRequest

    return BriefRequest(
        text=row.text,
        mode=RequestedMode(row.mode),
        product=ProductType(row.requested_product) if row.requested_product else None,
    )


def _read_briefs(runtime: Runtime, rows: list[Brief]) -> list[uuid.UUID]:
    """Reads the briefs for their design; returns those that some reader reads later."""
    readings = runtime.brief_ensemble.read_many([_request_of(row) for row in rows])
    read_late = []
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
        # The mode the perfumer asked for (auto resolved), which the design searches in: a
        # downshift is about the reading only, and a slow model must not halve the search.
        # The mode the reading ran in is the parser's and the reading path's.
        row.mode = reading.path.get("downshifted_from", reading.mode.value)
        row.reading = reading.path
        row.parser = "ensemble:" + reading.mode.value
        if reading.later:
            row.suggestions = pending_record(reading.later)
            read_late.append(row.id)
    return read_late


def read_after_design(brief_ids: str) -> None:
    """The readers no design waited for (comma-separated brief ids, read together): what
    they find is kept on each brief as suggestions (fragrance_ai/llm/late_reading.py).
    Never raises: the briefs' jobs are designing or done, and a retry of this step would
    only read again; a failure is recorded on the brief instead."""
    from fragrance_ai.llm.ensemble import BriefReading

    runtime = current_runtime()
    ids = [uuid.UUID(brief_id) for brief_id in brief_ids.split(",")]
    try:
        # No transaction stays open while the models read: on SQLite it would hold off
        # every design's writes.
        with runtime.sessions() as session:
            rows = [row for row in (session.get(Brief, i) for i in ids) if _awaits_late(row)]
            requests = [_request_of(row) for row in rows]
            readings = [
                BriefReading(
                    brief=CreativeBrief.model_validate(row.parsed),
                    mode=InferenceMode((row.reading or {}).get("mode", row.mode)),
                    later=list((row.suggestions or {}).get("readers", {})),
                )
                for row in rows
            ]
            read_ids = [row.id for row in rows]
        started = time.perf_counter()
        found = runtime.brief_ensemble.read_later(requests, readings)
        seconds = time.perf_counter() - started
        with runtime.sessions() as session:
            for brief_id, suggestions in zip(read_ids, found, strict=True):
                row = session.get(Brief, brief_id)
                if row is not None:
                    row.suggestions = suggestions.record(seconds)
            session.commit()
    except Exception as error:  # recorded on the briefs; the designs are not concerned
        log.exception("reading briefs %s after their design failed", brief_ids)
        _record_late_failure(runtime, ids, f"{type(error).__name__}: {error}")


def _awaits_late(row: Brief | None) -> TypeGuard[Brief]:
    return row is not None and row.parsed is not None and row.suggestions is not None


def _record_late_failure(runtime: Runtime, ids: list[uuid.UUID], detail: str) -> None:
    try:
        with runtime.sessions() as session:
            for row in (session.get(Brief, i) for i in ids):
                if row is not None:
                    row.suggestions = failed_record(detail)
            session.commit()
    except Exception:
        log.exception("could not record the late reading's failure")


def design_formulas(job_id: str) -> None:
    # The optimiser brings DEAP: imported here, on the worker, never by the API process,
    # which imports this module to enqueue.
    from fragrance_ai.optimize.design import design_options
    from fragrance_ai.optimize.evaluate import Objective
    from fragrance_ai.optimize.search import GenerationStats, SearchConfig

    runtime = current_runtime()
    with (
        runtime.sessions() as session,
        running_step(session, job_id, "design_formulas", 0.5) as job,
    ):
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
        job.result = stored(
            BriefJobResult(
                brief_id=brief_row.id,
                formula_ids=[row.id for row in rows],
                options=[
                    DesignedOption(
                        formula_id=row.id,
                        produced_by=option.produced_by,
                        scores=option.scores,
                        generation=option.generation,
                    )
                    for row, option in zip(rows, design.options, strict=True)
                ],
                search=SearchRecord(
                    mode=mode.value,
                    seed=config.seed,
                    population=config.population,
                    objectives=[objective.value for objective in config.objectives],
                    evaluations=design.evaluations,
                    generations=[
                        SearchGeneration.model_validate(asdict(stats))
                        for stats in design.generations
                    ],
                    unmet=design.unmet,
                    structure=design.structure,
                    left_out=design.left_out,
                ),
                brief_understood=brief.understood,
                defaults_used=list(brief.defaults_used),
                # Notes the text asks for that no catalogue material matches: said, not dropped.
                unmatched_notes=list(brief.unmatched_notes),
                hints=list(brief.hints),
                evocations=list(brief.evocations),
                unread_words=list(brief.unread_words),
                parser=brief_row.parser,
                reading=brief_row.reading,
                reading_notes=reading_notes(brief_row.reading, design_mode=mode.value),
            )
        )
        finish(job, JobStatus.FINISHED)


def option_formula_id(job_id: uuid.UUID, index: int) -> uuid.UUID:
    return uuid.uuid5(job_id, f"option:{index}")


def train_policy(job_id: str) -> None:
    """A training run (fragrance_ai.training.run): reward model, PPO, checkpoints, rollbacks.
    torch comes with it: imported here, on the worker."""
    from fragrance_ai.training.run import TrainingRefused, run_training

    runtime = current_runtime()
    with runtime.sessions() as session, running_step(session, job_id, "train_policy", 0.0) as job:
        if job is None:
            return
        try:
            run = run_training(runtime, session, job)
        except TrainingRefused as error:
            raise PermanentJobError(str(error)) from error
        job.result = stored(TrainingJobResult(training_run_id=run.id, **(run.metrics or {})))
        finish(job, JobStatus.FINISHED)


def _brief_of(session: Session, job: Job) -> Brief:
    brief = session.get(Brief, job.brief_id) if job.brief_id else None
    if brief is None:
        raise PermanentJobError("the job has no brief")
    return brief

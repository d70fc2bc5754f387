"""What the job machinery promises, on the embedded default (SQLite, in-process queue) and
on PostgreSQL: resumed jobs, retries, a finished job never redone, a permanent error fails
the job at once, a step delivered twice at once stores its formulas once."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.db.models import Brief, Formula, Job, JobKind, JobStatus
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.jobs.steps import design_formulas, option_formula_id, parse_brief
from fragrance_ai.jobs.submit import resume_unfinished_jobs
from fragrance_ai.optimize import design
from fragrance_ai.queue import InProcessJobQueue, QueueName
from fragrance_ai.queue.base import attempts_remaining
from fragrance_ai.runtime import Runtime, build_runtime, install_runtime
from fragrance_ai.settings import QueueSettings
from tests.conftest import make_settings
from tests.reliability.stack import wait_for

TEXT = "fresh citrus cologne for summer with a woody base"


def _new_job(runtime: Runtime, *, status: JobStatus = JobStatus.QUEUED) -> uuid.UUID:
    with runtime.sessions() as session:
        brief = Brief(id=uuid.uuid4(), text=TEXT, mode="balanced")
        job = Job(
            id=uuid.uuid4(), kind=JobKind.DESIGN_FROM_BRIEF.value, brief_id=brief.id, status=status
        )
        session.add_all([brief, job])
        session.commit()
        return job.id


def _job(runtime: Runtime, job_id: uuid.UUID) -> Job:
    with runtime.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _formulas_of(runtime: Runtime, job_id: uuid.UUID) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).where(Formula.job_id == job_id)) or 0


def _ended(runtime: Runtime, job_id: uuid.UUID) -> bool:
    return _job(runtime, job_id).status in (JobStatus.FINISHED.value, JobStatus.FAILED.value)


@pytest.fixture
def installed(runtime: Runtime) -> Runtime:
    install_runtime(runtime)
    return runtime


def test_resume_puts_each_unfinished_job_back_at_the_step_it_needs(installed: Runtime) -> None:
    done_before = _new_job(installed)
    parse_brief(str(done_before))  # reads its brief; the design goes to the worker thread
    wait_for(lambda: _ended(installed, done_before), timeout_s=60, what="first job")
    parsed = _brief_of(installed, done_before).parsed
    # Left by a process that died: one job never started, one whose brief was read.
    unread = _new_job(installed)
    read = _new_job(installed, status=JobStatus.STARTED)
    with installed.sessions() as session:
        brief = session.get_one(Brief, session.get_one(Job, read).brief_id)
        brief.parsed, brief.parser = parsed, "kept"
        session.commit()

    assert resume_unfinished_jobs(installed) == 2

    for job_id in (unread, read):
        wait_for(
            lambda job_id=job_id: _ended(installed, job_id),  # type: ignore[misc]
            timeout_s=60,
            what="resumed",
        )
        job = _job(installed, job_id)
        assert job.status == JobStatus.FINISHED.value, job.error
    # The read brief went straight to design: one step claimed, its reading kept.
    assert _job(installed, read).attempts == 1
    assert _brief_of(installed, read).parser == "kept"
    assert _job(installed, unread).attempts == 2


def _brief_of(runtime: Runtime, job_id: uuid.UUID) -> Brief:
    with runtime.sessions() as session:
        return session.get_one(Brief, session.get_one(Job, job_id).brief_id)


def test_in_process_retries_run_a_failing_step_again_until_it_succeeds() -> None:
    queue = InProcessJobQueue(QueueSettings(retry_intervals_s=[0, 0]))
    seen: list[int] = []
    done = threading.Event()

    def flaky(job_id: str) -> None:
        seen.append(attempts_remaining())
        if len(seen) < 3:
            raise RuntimeError(f"attempt {len(seen)} of {job_id} fails")
        done.set()

    try:
        queue.enqueue(QueueName.RL_TRAINING, flaky, "job-1")
        assert done.wait(timeout=30)
    finally:
        queue.close()
    # Each attempt knows how many retries are left after it; the last knows it is the last.
    assert seen == [2, 1, 0]


def test_in_process_retries_stop_after_the_last_interval() -> None:
    queue = InProcessJobQueue(QueueSettings(retry_intervals_s=[0]))
    seen: list[int] = []

    def always_fails(_job_id: str) -> None:
        seen.append(attempts_remaining())
        raise RuntimeError("never works")

    queue.enqueue(QueueName.RL_TRAINING, always_fails, "job-1")
    queue.close()  # joins the worker threads once their queues are drained
    assert seen == [1, 0]


def test_a_finished_job_is_not_redone_by_a_second_delivery(installed: Runtime) -> None:
    job_id = _new_job(installed)
    parse_brief(str(job_id))
    wait_for(lambda: _ended(installed, job_id), timeout_s=60, what="job ends")
    before = _job(installed, job_id)
    assert before.status == JobStatus.FINISHED.value, before.error
    stored = _formulas_of(installed, job_id)

    design_formulas(str(job_id))  # RQ delivers at least once: here is the second delivery
    parse_brief(str(job_id))

    after = _job(installed, job_id)
    assert after.status == JobStatus.FINISHED.value
    assert after.attempts == before.attempts
    assert after.result == before.result
    assert _formulas_of(installed, job_id) == stored


def test_a_permanent_error_fails_the_job_at_once_with_its_message(installed: Runtime) -> None:
    job_id = _new_job(installed, status=JobStatus.STARTED)  # its brief was never read

    design_formulas(str(job_id))  # returns: nothing to retry

    job = _job(installed, job_id)
    assert job.status == JobStatus.FAILED.value
    assert job.error == "design_formulas: the brief has not been parsed"
    assert job.attempts == 1
    assert job.finished_at is not None


@pytest.mark.integration
def test_a_step_delivered_twice_at_once_stores_its_formulas_once(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = build_runtime(make_settings(tmp_path, database_url=postgres_url))
    upgrade_to_head(runtime.engine)
    install_runtime(runtime)
    try:
        job_id = _new_job(runtime)
        with runtime.sessions() as session:
            job = session.get_one(Job, job_id)
            # Read the brief without handing on: both deliveries below are of the design.
            brief = session.get_one(Brief, job.brief_id)
            parser = DeterministicBriefParser(runtime.catalogue)
            brief.parsed = parser.parse(TEXT).model_dump(mode="json")
            session.commit()
        errors: list[BaseException] = []
        # Each delivery waits, once it has claimed the job, until the other has too: the
        # two searches overlap for certain, however the threads are scheduled.
        both_claimed = threading.Barrier(2, timeout=60)
        search = design.design_options

        def design_once_both_claimed(*args: Any, **kwargs: Any) -> Any:
            both_claimed.wait()
            return search(*args, **kwargs)

        monkeypatch.setattr(design, "design_options", design_once_both_claimed)

        def deliver() -> None:
            try:
                design_formulas(str(job_id))
            except Exception as error:  # the loser of the race on the formulas' keys
                errors.append(error)

        deliveries = [threading.Thread(target=deliver) for _ in range(2)]
        for delivery in deliveries:
            delivery.start()
        for delivery in deliveries:
            delivery.join(timeout=120)
        job = _job(runtime, job_id)
        assert job.attempts == 2, "both deliveries were to run the step"
        assert job.status == JobStatus.FINISHED.value, job.error
        assert job.result is not None
        named = [uuid.UUID(formula_id) for formula_id in job.result["formula_ids"]]
        assert named == [option_formula_id(job_id, index) for index in range(len(named))]
        assert _formulas_of(runtime, job_id) == len(named)
        assert len(errors) <= 1
    finally:
        install_runtime(None)
        runtime.close()

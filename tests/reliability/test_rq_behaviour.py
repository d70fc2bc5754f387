"""What RQ itself does with our steps, against the real Redis with RQ's own workers: one RQ
job per step, retries through RQ's scheduler, job timeouts, no retry of a permanent error,
and the reconciler's part (a running step left alone, a flushed Redis refilled)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rq import Queue
from rq.job import Job as RQJob
from rq.job import JobStatus as RQStatus
from sqlalchemy import func, select, update

from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.db.models import Brief, Formula, Job, JobKind, JobStatus
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.queue import QueueName, RedisJobQueue
from fragrance_ai.queue.redis_queue import rq_job_id
from fragrance_ai.runtime import Runtime, build_runtime, install_runtime
from fragrance_ai.settings import QueueSettings
from fragrance_ai.worker.reconciler import reconcile_once
from fragrance_ai.worker.recovery import Action
from tests.conftest import make_settings
from tests.reliability import steps
from tests.reliability.burst import work_once, work_until
from tests.reliability.stack import (
    BRIEFS,
    Processes,
    all_ended,
    assert_each_finished_once,
    command,
    fast_optimizer,
    stack_environment,
    submit,
    wait_for,
)

pytestmark = pytest.mark.integration

RuntimeFactory = Callable[..., Runtime]


@pytest.fixture
def make_runtime(tmp_path: Path, postgres_url: str, redis_url: str) -> Iterator[RuntimeFactory]:
    """A runtime on the test's PostgreSQL database and Redis, with the given queue policy,
    installed for the steps this process runs."""
    built: list[Runtime] = []

    def make(**queue: object) -> Runtime:
        runtime = build_runtime(
            make_settings(
                tmp_path,
                database_url=postgres_url,
                redis_url=redis_url,
                queue=QueueSettings(**queue),
                optimizer=fast_optimizer(),
            )
        )
        upgrade_to_head(runtime.engine)
        install_runtime(runtime)
        built.append(runtime)
        return runtime

    yield make
    install_runtime(None)
    for runtime in built:
        runtime.close()


def _new_job(runtime: Runtime, *, parsed: bool = False) -> uuid.UUID:
    with runtime.sessions() as session:
        brief = Brief(id=uuid.uuid4(), text=BRIEFS[0], mode="balanced")
        job = Job(id=uuid.uuid4(), kind=JobKind.DESIGN_FROM_BRIEF.value, brief_id=brief.id)
        if parsed:
            reading = DeterministicBriefParser(runtime.catalogue).parse(BRIEFS[0])
            brief.parsed = reading.model_dump(mode="json")
            job.status = JobStatus.STARTED.value
        session.add_all([brief, job])
        session.commit()
        return job.id


def _job(runtime: Runtime, job_id: uuid.UUID) -> Job:
    with runtime.sessions() as session:
        return session.get_one(Job, job_id)


def _ended(runtime: Runtime, job_id: uuid.UUID) -> bool:
    return _job(runtime, job_id).status in (JobStatus.FINISHED.value, JobStatus.FAILED.value)


def _connection(runtime: Runtime) -> RedisJobQueue:
    assert isinstance(runtime.queue, RedisJobQueue)
    return runtime.queue


def _rq_status(runtime: Runtime, job_id: uuid.UUID, step: str) -> RQStatus | None:
    rq_job = RQJob.fetch(rq_job_id(str(job_id), step), connection=_connection(runtime).connection)
    return rq_job.get_status()


def test_the_same_step_enqueued_twice_is_one_rq_job_run_once(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(retry_intervals_s=[])
    job_id = _new_job(runtime)

    for _ in range(2):
        runtime.queue.enqueue(QueueName.RL_TRAINING, steps.finishes, str(job_id))

    assert runtime.queue.depth()[QueueName.RL_TRAINING] == 1
    work_until(runtime, lambda: _ended(runtime, job_id), timeout_s=30)
    work_once(runtime)  # a second copy, had there been one, would run now
    assert len(steps.deliveries(_connection(runtime).connection, str(job_id))) == 1
    job = _job(runtime, job_id)
    assert (job.status, job.attempts) == (JobStatus.FINISHED.value, 1)


def test_a_permanent_error_under_rq_fails_the_job_at_once_without_retries(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime(retry_intervals_s=[1, 1])
    job_id = _new_job(runtime)
    runtime.queue.enqueue(QueueName.RL_TRAINING, steps.fails_permanently, str(job_id))

    work_once(runtime)

    job = _job(runtime, job_id)
    assert job.status == JobStatus.FAILED.value
    assert job.error == "fails_permanently: the data cannot be designed from"
    assert job.attempts == 1
    # RQ saw the step end: nothing is scheduled to run it again.
    assert _rq_status(runtime, job_id, "fails_permanently") is RQStatus.FINISHED
    connection = _connection(runtime).connection
    scheduled = Queue(QueueName.RL_TRAINING.value, connection=connection).scheduled_job_registry
    assert scheduled.count == 0
    assert len(steps.deliveries(connection, str(job_id))) == 1


def test_a_failing_step_is_retried_by_rqs_scheduler_after_its_interval(
    make_runtime: RuntimeFactory,
) -> None:
    interval_s = 2
    runtime = make_runtime(retry_intervals_s=[interval_s])
    connection = _connection(runtime).connection
    job_id = _new_job(runtime)
    runtime.queue.enqueue(QueueName.RL_TRAINING, steps.fails_once, str(job_id))

    work_once(runtime)  # the first delivery fails
    # Waiting in RQ's scheduler, and the row still open: a retry remains.
    assert _rq_status(runtime, job_id, "fails_once") is RQStatus.SCHEDULED
    job = _job(runtime, job_id)
    assert (job.status, job.error) == (JobStatus.STARTED.value, None)

    work_until(runtime, lambda: _ended(runtime, job_id), timeout_s=30)

    first, second = steps.deliveries(connection, str(job_id))
    # RQ stores a retry's time in whole seconds, rounded down: it comes due up to 1 s early.
    assert second - first >= interval_s - 1, second - first
    assert second - first < interval_s + 5
    job = _job(runtime, job_id)
    assert (job.status, job.attempts) == (JobStatus.FINISHED.value, 2)


def test_a_step_over_its_timeout_is_stopped_and_fails_the_job_once_no_retry_remains(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime(retry_intervals_s=[1], job_timeout_s=1)
    connection = _connection(runtime).connection
    job_id = _new_job(runtime)
    runtime.queue.enqueue(QueueName.RL_TRAINING, steps.sleeps_3_s, str(job_id))

    started = time.monotonic()
    work_once(runtime)
    # Stopped by RQ after about a second, not left to sleep its 3 s; one retry remains.
    assert time.monotonic() - started < 2.5
    job = _job(runtime, job_id)
    assert (job.status, job.error) == (JobStatus.STARTED.value, None)

    work_until(runtime, lambda: _ended(runtime, job_id), timeout_s=30)

    job = _job(runtime, job_id)
    assert job.status == JobStatus.FAILED.value
    assert job.error is not None
    assert job.error.startswith("sleeps_3_s: JobTimeoutException")
    assert job.attempts == 2
    assert len(steps.deliveries(connection, str(job_id))) == 2
    assert _rq_status(runtime, job_id, "sleeps_3_s") is RQStatus.FAILED


def test_reconcile_after_flushdb_enqueues_every_unfinished_job_at_its_step(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime(retry_intervals_s=[])
    connection = _connection(runtime).connection
    unread = [submit(runtime, text) for text in BRIEFS[:2]]
    read = [_new_job(runtime, parsed=True) for _ in range(2)]
    finished = _new_job(runtime)
    with runtime.sessions() as session:
        session.get_one(Job, finished).status = JobStatus.FINISHED.value
        session.commit()

    connection.flushdb()
    done = reconcile_once(runtime)

    assert done is not None
    assert done[Action.ENQUEUE] == 4
    assert sum(done.values()) == 4
    assert runtime.queue.depth() == {QueueName.LLM_INFERENCE: 2, QueueName.RL_TRAINING: 2}
    for job_id in unread:
        assert _rq_status(runtime, job_id, "parse_brief") is RQStatus.QUEUED
    for job_id in read:
        assert _rq_status(runtime, job_id, "design_formulas") is RQStatus.QUEUED
    # A second pass finds every step waiting and does nothing.
    again = reconcile_once(runtime)
    assert again is not None
    assert again[Action.LEAVE] == 4
    assert sum(again.values()) == 4

    everything = [*unread, *read]
    work_until(
        runtime,
        lambda: all_ended(runtime, everything),
        timeout_s=120,
        queues=(QueueName.LLM_INFERENCE, QueueName.RL_TRAINING),
    )
    assert assert_each_finished_once(runtime, everything) == 0
    assert _job(runtime, finished).attempts == 0


def test_a_step_popped_by_a_worker_that_never_starts_it_is_put_back_once_settled(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime(retry_intervals_s=[], reconcile_interval_s=0.5)
    connection = _connection(runtime).connection
    job_id = submit(runtime, BRIEFS[0])
    with runtime.sessions() as session:
        # Accepted long ago: only the step's own state can keep it from being redone now.
        long_ago = datetime.now(UTC) - timedelta(hours=1)
        session.execute(update(Job).where(Job.id == job_id).values(updated_at=long_ago))
        session.commit()
    queue_key = f"rq:queue:{QueueName.LLM_INFERENCE.value}"
    # What a worker of several queues does first (LPOP); it is killed before marking it started.
    assert connection.lpop(queue_key) == rq_job_id(str(job_id), "parse_brief").encode()

    first = reconcile_once(runtime)
    # Popped a moment ago: a live worker may be about to start it, so it is left.
    assert first == {Action.LEAVE: 1}
    assert connection.llen(queue_key) == 0
    wait_for(
        lambda: reconcile_once(runtime) == {Action.REPLACE: 1},
        timeout_s=10,
        what="the reconciler puts the step back",
    )
    assert connection.lrange(queue_key, 0, -1) == [rq_job_id(str(job_id), "parse_brief").encode()]
    work_until(
        runtime,
        lambda: _ended(runtime, job_id),
        timeout_s=60,
        queues=(QueueName.LLM_INFERENCE, QueueName.RL_TRAINING),
    )
    assert assert_each_finished_once(runtime, [job_id]) == 0


def _design_started(runtime: Runtime, job_id: uuid.UUID) -> float | None:
    job = _job(runtime, job_id)
    if job.stage and job.stage.startswith("design_formulas") and job.status == "started":
        return time.monotonic()
    return None


@pytest.mark.e2e
def test_a_step_running_on_a_live_worker_is_never_enqueued_again(
    tmp_path: Path, make_runtime: RuntimeFactory, postgres_url: str, redis_url: str
) -> None:
    runtime = make_runtime(retry_intervals_s=[])
    # A design of several seconds: every worker's reconciler passes over it several times.
    environment = stack_environment(
        tmp_path, postgres_url, redis_url, search={"population": 64, "generations": 400}
    )
    worker_command = command("worker", "rl", "--queue", "llm_inference", "--queue", "rl_training")
    processes = Processes(tmp_path)
    try:
        workers = [processes.start(worker_command, environment) for _ in range(2)]
        job_id = submit(runtime, BRIEFS[1])
        began = wait_for(
            lambda: _design_started(runtime, job_id) or any(w.poll() is not None for w in workers),
            timeout_s=60,
            what="the design starts",
        )
        wait_for(lambda: _ended(runtime, job_id), timeout_s=120, what="the job ends")
        design_s = time.monotonic() - began
        for worker in workers:
            assert worker.poll() is None, processes.log_of(worker)[-4000:]
            processes.stop(worker)
    finally:
        processes.close()
    job = _job(runtime, job_id)
    assert job.status == JobStatus.FINISHED.value, job.error
    assert job.attempts == 2, "parse_brief once and design_formulas once"
    # At least three reconciler passes per worker while the step ran (interval 1 s).
    assert design_s >= 3, f"the design took {design_s:.1f} s: too short to prove anything"
    with runtime.sessions() as session:
        stored = session.scalar(select(func.count()).where(Formula.job_id == job_id))
    assert job.result is not None
    assert stored == len(job.result["formula_ids"])
    logs = "".join(processes.log_of(worker) for worker in workers)
    assert "reconciler:" not in logs, logs[-4000:]
    print(f"\nlive worker: design ran {design_s:.1f} s under two reconcilers, attempts=2")

"""Job steps for the tests, importable by an RQ worker subprocess (`tests.reliability.steps`).
Each one goes through the real claim-and-record machinery (`running_step`, in
fragrance_ai.jobs.lifecycle) and counts its deliveries in Redis, so a test can see how often
RQ ran it and when."""

from __future__ import annotations

import time

from redis import Redis
from rq import get_current_job

from fragrance_ai.db.models import JobStatus
from fragrance_ai.jobs.lifecycle import PermanentJobError, finish, running_step
from fragrance_ai.runtime import current_runtime

DELIVERIES = "fragrance-test:deliveries:{job_id}"


def deliveries(connection: Redis, job_id: str) -> list[float]:
    """When each delivery of the job's step began (epoch seconds), in order."""
    return [float(raw) for raw in connection.lrange(DELIVERIES.format(job_id=job_id), 0, -1)]


def _count_delivery(job_id: str) -> int:
    rq_job = get_current_job()
    assert rq_job is not None
    connection: Redis = rq_job.connection
    key = DELIVERIES.format(job_id=job_id)
    connection.rpush(key, repr(time.time()))
    return int(connection.llen(key))


def finishes(job_id: str) -> None:
    _count_delivery(job_id)
    with (
        current_runtime().sessions() as session,
        running_step(session, job_id, "finishes", 0.1) as job,
    ):
        if job is None:
            return
        finish(job, JobStatus.FINISHED)


def fails_once(job_id: str) -> None:
    delivery = _count_delivery(job_id)
    with (
        current_runtime().sessions() as session,
        running_step(session, job_id, "fails_once", 0.1) as job,
    ):
        if job is None:
            return
        if delivery == 1:
            raise RuntimeError("the first delivery fails")
        finish(job, JobStatus.FINISHED)


def fails_permanently(job_id: str) -> None:
    _count_delivery(job_id)
    runtime = current_runtime()
    with (
        runtime.sessions() as session,
        running_step(session, job_id, "fails_permanently", 0.1) as job,
    ):
        if job is None:
            return
        raise PermanentJobError("the data cannot be designed from")


def sleeps_3_s(job_id: str) -> None:
    _count_delivery(job_id)
    with (
        current_runtime().sessions() as session,
        running_step(session, job_id, "sleeps_3_s", 0.1) as job,
    ):
        if job is None:
            return
        time.sleep(3)
        finish(job, JobStatus.FINISHED)


def sleeps_20_s(job_id: str) -> None:
    """Long enough for a test to signal the worker twice, a second apart, in the middle of it."""
    _count_delivery(job_id)
    with (
        current_runtime().sessions() as session,
        running_step(session, job_id, "sleeps_20_s", 0.1) as job,
    ):
        if job is None:
            return
        time.sleep(20)
        finish(job, JobStatus.FINISHED)

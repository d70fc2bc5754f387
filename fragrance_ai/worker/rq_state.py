"""Where RQ holds a step, which workers are alive, and clearing a stale step: the Redis side
of the reconciler (fragrance_ai/worker/reconciler.py).

A worker is live while its liveness key exists. RQ's own worker key cannot say so: a
SimpleWorker sets it to outlive the job's whole timeout when a job starts, so a worker
killed mid-job looks alive for up to job_timeout_s + 60 s. The key here is beaten by a
thread of the worker every few seconds and expires soon after a kill.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.executions import Execution, ExecutionRegistry
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job as RQJob
from rq.job import JobStatus as RQStatus

from fragrance_ai.worker.recovery import InQueue, StepInQueue

LIVENESS_KEY = "fragrance:worker-alive:{name}"
UNLISTED_KEY = "fragrance:unlisted-since:{rq_id}"

_WAITING = {RQStatus.SCHEDULED, RQStatus.DEFERRED, RQStatus.CREATED}
_ENDED = {RQStatus.FINISHED, RQStatus.FAILED, RQStatus.STOPPED, RQStatus.CANCELED}


def beat(connection: Redis, worker_name: str, ttl_s: float) -> None:
    connection.set(LIVENESS_KEY.format(name=worker_name), "1", px=int(ttl_s * 1000))


def forget(connection: Redis, worker_name: str) -> None:
    connection.delete(LIVENESS_KEY.format(name=worker_name))


def live_workers(connection: Redis, names: set[str]) -> frozenset[str]:
    ordered = sorted(names)
    if not ordered:
        return frozenset()
    found = connection.mget([LIVENESS_KEY.format(name=name) for name in ordered])
    return frozenset(name for name, value in zip(ordered, found, strict=True) if value)


def step_in_queue(connection: Redis, rq_id: str, *, remember_s: float = 3600) -> StepInQueue:
    """`remember_s`: how long a step found unlisted is remembered as such (longer than a
    reconciler's interval, so that the next pass can tell a lost step from a passing one)."""
    try:
        job = RQJob.fetch(rq_id, connection=connection)
    except NoSuchJobError:
        return StepInQueue(InQueue.MISSING)
    status = job.get_status(refresh=False)
    if status in _WAITING:
        return StepInQueue(InQueue.WAITING)
    if status is RQStatus.QUEUED:
        # Queued in the hash is not enough: the id must be in the queue's list, or in the
        # list a worker of one queue moves it to while dequeuing.
        queue_key = Queue(job.origin, connection=connection).key
        lists = (queue_key, IntermediateQueue.get_intermediate_queue_key(queue_key))
        if any(connection.lpos(key, rq_id) is not None for key in lists):
            return StepInQueue(InQueue.WAITING)
        # A worker of several queues pops with LPOP, then marks the job started: in between,
        # the step is in no list. Lost only if it stays so (recovery.decide waits settle_s).
        return StepInQueue(InQueue.UNLISTED, since=_unlisted_since(connection, rq_id, remember_s))
    if status is RQStatus.STARTED:
        return StepInQueue(InQueue.RUNNING, _workers_running(connection, job))
    if status in _ENDED:
        return StepInQueue(InQueue.ENDED)
    return StepInQueue(InQueue.WAITING)


def _unlisted_since(connection: Redis, rq_id: str, remember_s: float) -> datetime:
    key = UNLISTED_KEY.format(rq_id=rq_id)
    connection.set(key, repr(time.time()), nx=True, px=int(remember_s * 1000))
    first_seen = connection.get(key)
    return datetime.fromtimestamp(float(first_seen) if first_seen else time.time(), UTC)


def _workers_running(connection: Redis, job: RQJob) -> frozenset[str]:
    names = {job.worker_name} if job.worker_name else set()
    for execution_id in ExecutionRegistry(job_id=job.id, connection=connection).get_execution_ids():
        execution = Execution(id=execution_id, job_id=job.id, connection=connection)
        raw = connection.hget(execution.key, "worker_name")
        if raw:
            names.add(raw.decode() if isinstance(raw, bytes) else str(raw))
    return frozenset(names)


def clear(connection: Redis, rq_id: str) -> None:
    """Deletes RQ's job for a step with its executions and registry entries, so that the
    step can be enqueued afresh under the same id."""
    connection.delete(UNLISTED_KEY.format(rq_id=rq_id))
    try:
        RQJob.fetch(rq_id, connection=connection).delete()
    except NoSuchJobError:
        return

"""The reconciler: puts back every unfinished job whose next step RQ no longer holds.

It runs in each RQ worker process, once at start and then every `queue.reconcile_interval_s`,
on a thread of its own that also beats the worker's liveness key. A Redis lock lets one
reconciler act at a time; each decision (fragrance_ai/worker/recovery.py) is read again just
before it is acted on, and a step enqueued twice is refused by RQ under its id, so workers
running it side by side never double the work.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import LockError, RedisError
from sqlalchemy.exc import SQLAlchemyError

from fragrance_ai.db.models import Job, JobStatus
from fragrance_ai.jobs.lifecycle import fail_job
from fragrance_ai.jobs.submit import NextStep, enqueue_step, next_step, unfinished_jobs
from fragrance_ai.queue import RedisJobQueue
from fragrance_ai.queue.redis_queue import rq_job_id
from fragrance_ai.runtime import Runtime
from fragrance_ai.worker import rq_state
from fragrance_ai.worker.recovery import Action, Decision, UnfinishedJob, decide

log = logging.getLogger(__name__)

LOCK_KEY = "fragrance:reconciler-lock"


def reconcile_once(runtime: Runtime) -> Counter[Action] | None:
    """One pass; what it did per action, or None when another reconciler holds the lock."""
    queue = runtime.queue
    if not isinstance(queue, RedisJobQueue):
        raise TypeError("the reconciler works RQ on Redis; the in-process queue resumes jobs")
    connection = queue.connection
    # Long enough for a pass over many jobs; a holder that dies frees it when it expires.
    interval_s = runtime.settings.queue.reconcile_interval_s
    lock = connection.lock(LOCK_KEY, timeout=max(60.0, 2 * interval_s))
    if not lock.acquire(blocking=False):
        return None
    try:
        return _reconcile(runtime, connection)
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("the reconciler's lock expired during its pass")


def _reconcile(runtime: Runtime, connection: Redis) -> Counter[Action]:
    with runtime.sessions() as session:
        candidates = [job.id for job in unfinished_jobs(session)]
    done: Counter[Action] = Counter()
    for job_id in candidates:
        action = _reconcile_job(runtime, connection, job_id)
        done[action] += 1
    acted = {action.value: count for action, count in done.items() if action is not Action.LEAVE}
    if acted:
        log.warning("reconciler: %s (of %d unfinished jobs)", acted, len(candidates))
    return done


def _reconcile_job(runtime: Runtime, connection: Redis, job_id: uuid.UUID) -> Action:
    # The row is read fresh for each job: it may have moved on since the list was taken,
    # and RQ is read after it, so a step that ends meanwhile shows as waiting or ended.
    settings = runtime.settings.queue
    with runtime.sessions() as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in (JobStatus.QUEUED.value, JobStatus.STARTED.value):
            return Action.LEAVE
        step = next_step(runtime, session, job)
        unfinished = UnfinishedJob(
            job_id=str(job.id), step=step.name, deliveries=job.attempts, updated_at=job.updated_at
        )
        decision = _decide(
            connection, unfinished, settings.reconcile_interval_s, settings.max_deliveries
        )
        if decision.action is Action.LEAVE:
            return Action.LEAVE
        _act(runtime, connection, job, step, decision)
        return decision.action


def _decide(
    connection: Redis, job: UnfinishedJob, settle_s: float, max_deliveries: int
) -> Decision:
    in_queue = rq_state.step_in_queue(
        connection, rq_job_id(job.job_id, job.step), remember_s=max(60.0, 4 * settle_s)
    )
    return decide(
        job,
        in_queue,
        rq_state.live_workers(connection, set(in_queue.workers)),
        now=datetime.now(UTC),
        settle_s=settle_s,
        max_deliveries=max_deliveries,
    )


def _act(runtime: Runtime, connection: Redis, job: Job, step: NextStep, decision: Decision) -> None:
    log.warning("job %s: %s; %s", job.id, decision.reason, decision.action.value)
    if decision.action is Action.GIVE_UP:
        fail_job(runtime, job.id, f"{step.name}: gave up: {decision.reason}")
        return
    if decision.action is Action.REPLACE:
        rq_state.clear(connection, rq_job_id(str(job.id), step.name))
    enqueue_step(runtime, job.id, step)


class ReconcilerThread:
    """Beats this worker's liveness key and runs the reconciler, on a daemon thread."""

    def __init__(self, runtime: Runtime, worker_name: str) -> None:
        queue = runtime.queue
        if not isinstance(queue, RedisJobQueue):
            raise TypeError("the reconciler works RQ on Redis")
        self._runtime = runtime
        self._connection = queue.connection
        self._worker_name = worker_name
        self._ttl_s = runtime.settings.queue.worker_liveness_ttl_s
        self._interval_s = runtime.settings.queue.reconcile_interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reconciler", daemon=True)

    def start(self) -> ReconcilerThread:
        # Live before the first job is taken: a job must never run on a worker that looks gone.
        self._beat()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)
        with contextlib.suppress(RedisError):
            rq_state.forget(self._connection, self._worker_name)

    def _run(self) -> None:
        beat_every_s = self._ttl_s / 3
        next_pass = time.monotonic()  # once at start, then every interval
        while not self._stopping.is_set():
            self._beat()
            if time.monotonic() >= next_pass:
                self._pass()
                next_pass = time.monotonic() + self._interval_s
            self._stopping.wait(max(0.05, min(beat_every_s, next_pass - time.monotonic())))

    def _beat(self) -> None:
        try:
            rq_state.beat(self._connection, self._worker_name, self._ttl_s)
        except RedisError as error:
            log.warning("liveness beat failed: %s", error)

    def _pass(self) -> None:
        try:
            reconcile_once(self._runtime)
        except (RedisError, SQLAlchemyError) as error:
            # Redis or the database is down: the next pass tries again.
            log.warning("reconciler pass failed: %s: %s", type(error).__name__, error)
        except Exception:
            log.exception("reconciler pass failed")

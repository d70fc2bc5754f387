"""RQ on Redis: the backend for staging, production and the integration tests."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError

from fragrance_ai.queue.base import QueueName, QueueUnavailable, StepFunction
from fragrance_ai.settings import QueueSettings

log = logging.getLogger(__name__)


def rq_job_id(job_id: str, step: str) -> str:
    """One RQ job per (our job, step)."""
    return f"{job_id}-{step}"


class RedisJobQueue:
    backend = "redis"

    def __init__(self, redis_url: str, policy: QueueSettings) -> None:
        self.connection = Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=30)
        self._policy = policy
        self._queues = {name: Queue(name.value, connection=self.connection) for name in QueueName}

    def enqueue(
        self, queue: QueueName, step: StepFunction, job_id: str, *, timeout_s: int | None = None
    ) -> None:
        intervals = self._policy.retry_intervals_s
        retry = Retry(max=len(intervals), interval=intervals) if intervals else None
        try:
            self._queues[queue].enqueue(
                step,
                job_id,
                job_id=rq_job_id(job_id, step.__name__),
                # While RQ holds this step (waiting, running or done), a second enqueue is
                # refused atomically, never queued twice; the reconciler clears a stale one.
                unique=True,
                job_timeout=timeout_s or self._policy.job_timeout_s,
                result_ttl=self._policy.result_ttl_s,
                failure_ttl=self._policy.failure_ttl_s,
                retry=retry,
            )
        except DuplicateJobError:
            log.debug("job %s: step %s is already in RQ", job_id, step.__name__)
        except RedisError as error:
            raise QueueUnavailable(f"redis: {error}") from error

    def depth(self) -> dict[QueueName, int]:
        try:
            return {name: queue.count for name, queue in self._queues.items()}
        except RedisError as error:
            raise QueueUnavailable(f"redis: {error}") from error

    def oldest_wait_s(self) -> dict[QueueName, float]:
        # RQ appends to the tail and workers pop the head: the head has waited longest.
        # `get_jobs` drops ids whose job hash is gone (expired or deleted).
        now = datetime.now(UTC)
        waits: dict[QueueName, float] = {}
        try:
            for name, queue in self._queues.items():
                head = queue.get_jobs(0, 1)
                enqueued_at = head[0].enqueued_at if head else None
                waits[name] = (now - enqueued_at).total_seconds() if enqueued_at else 0.0
        except RedisError as error:
            raise QueueUnavailable(f"redis: {error}") from error
        return {name: max(wait, 0.0) for name, wait in waits.items()}

    def ping(self) -> None:
        try:
            self.connection.ping()
        except RedisError as error:
            raise QueueUnavailable(f"redis: {error}") from error

    def close(self) -> None:
        self.connection.close()

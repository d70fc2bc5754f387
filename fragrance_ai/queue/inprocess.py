"""Worker threads inside this process: the embedded default, so nothing but Python is needed.

One thread per queue mirrors one RQ worker per queue. Retries follow the same policy as RQ.
Work waiting here dies with the process, but the job rows do not: `recover` re-enqueues them.
"""

from __future__ import annotations

import logging
import queue as stdlib_queue
import threading
import time

from fragrance_ai.queue.base import (
    QueueName,
    StepFunction,
    inprocess_attempts_remaining,
)
from fragrance_ai.settings import QueueSettings

log = logging.getLogger(__name__)

# A step to run on a job with the time it was put here (time.monotonic), or None, which
# stops the thread that takes it.
_Work = tuple[StepFunction, str, float] | None


class InProcessJobQueue:
    backend = "in-process"

    def __init__(self, policy: QueueSettings) -> None:
        self._policy = policy
        self._pending: dict[QueueName, stdlib_queue.Queue[_Work]] = {
            name: stdlib_queue.Queue() for name in QueueName
        }
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def enqueue(
        self, queue: QueueName, step: StepFunction, job_id: str, *, timeout_s: int | None = None
    ) -> None:
        # No timeouts in-process: a thread cannot be stopped from outside.
        self._ensure_started()
        self._pending[queue].put((step, job_id, time.monotonic()))

    def depth(self) -> dict[QueueName, int]:
        return {name: pending.qsize() for name, pending in self._pending.items()}

    def oldest_wait_s(self) -> dict[QueueName, float]:
        now = time.monotonic()
        return {name: _head_wait_s(pending, now) for name, pending in self._pending.items()}

    def ping(self) -> None:
        return None

    def close(self) -> None:
        with self._lock:
            for name in QueueName:
                self._pending[name].put(None)
            for thread in self._threads:
                thread.join(timeout=30)
            self._threads.clear()

    def _ensure_started(self) -> None:
        with self._lock:
            if self._threads:
                return
            for name in QueueName:
                thread = threading.Thread(
                    target=self._work, args=(name,), name=f"worker-{name.value}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self, name: QueueName) -> None:
        pending = self._pending[name]
        while True:
            item = pending.get()
            if item is None:
                return
            step, job_id, _ = item
            self._run_with_retries(name, step, job_id)

    def _run_with_retries(self, name: QueueName, step: StepFunction, job_id: str) -> None:
        intervals = self._policy.retry_intervals_s
        for attempt in range(len(intervals) + 1):
            token = inprocess_attempts_remaining.set(len(intervals) - attempt)
            try:
                step(job_id)
                return
            except Exception:
                log.exception("%s: step %s of job %s failed", name.value, step.__name__, job_id)
                if attempt < len(intervals):
                    time.sleep(intervals[attempt])
            finally:
                inprocess_attempts_remaining.reset(token)


def _head_wait_s(pending: stdlib_queue.Queue[_Work], now: float) -> float:
    # queue.Queue keeps its items in a deque guarded by `mutex`; a peek needs no other API.
    with pending.mutex:
        head = pending.queue[0] if pending.queue else None
    return now - head[2] if head is not None else 0.0

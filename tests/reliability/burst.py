"""RQ's own SimpleWorker in this process, in burst runs: each run first enqueues the retries
RQ's scheduler holds that are due, then works what is waiting and returns. Jobs run in the
main thread, so RQ's job timeout (SIGALRM) stops them as it does on a real worker."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rq import Queue, SimpleWorker

from fragrance_ai.queue import QueueName, RedisJobQueue
from fragrance_ai.runtime import Runtime


def work_once(runtime: Runtime, queues: Sequence[QueueName] = (QueueName.RL_TRAINING,)) -> None:
    queue = runtime.queue
    assert isinstance(queue, RedisJobQueue)
    worker = SimpleWorker(
        [Queue(name.value, connection=queue.connection) for name in queues],
        connection=queue.connection,
    )
    worker.work(burst=True, with_scheduler=True, logging_level="WARNING")


def work_until(
    runtime: Runtime,
    condition: Callable[[], bool],
    *,
    timeout_s: float,
    queues: Sequence[QueueName] = (QueueName.RL_TRAINING,),
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        work_once(runtime, queues)
        if condition():
            return
        assert time.monotonic() < deadline, f"not done within {timeout_s} s"
        time.sleep(0.05)  # a scheduled retry comes due with the clock, not with an event

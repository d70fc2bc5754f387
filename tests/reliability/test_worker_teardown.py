"""A worker's teardown ends in bounded time whatever RQ's scheduler process does: RQ joins it
with no timeout, and a scheduler forked while the worker's threads held a lock may never
reach its signal check (one clean-clone CI run: a worker still tearing down a minute after
its SIGTERM, once Redis had restarted)."""

from __future__ import annotations

import multiprocessing
import signal
import time
from multiprocessing.synchronize import Event

import pytest
from redis import Redis
from rq import Queue
from rq.scheduler import RQScheduler

from fragrance_ai.worker.main import _StopRequest, _Worker

pytestmark = pytest.mark.integration


def _deaf_to_sigterm(deaf: Event) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    deaf.set()
    time.sleep(600)


# RQ's own stop_scheduler would wait here for ten minutes: the timeout fails it first.
@pytest.mark.timeout(120)
def test_a_scheduler_that_does_not_stop_on_sigterm_is_killed_and_the_teardown_goes_on(
    redis_url: str,
) -> None:
    with Redis.from_url(redis_url) as connection:
        queue = Queue("teardown-test", connection=connection)
        worker = _Worker([queue], connection=connection, stop=_StopRequest())
        scheduler = RQScheduler([queue.name], connection=connection)
        fork = multiprocessing.get_context("fork")
        deaf = fork.Event()
        process = fork.Process(target=_deaf_to_sigterm, args=(deaf,))
        process.start()
        assert deaf.wait(timeout=30)
        # RQ types the attribute by its initial None.
        scheduler._process = process  # type: ignore[assignment]
        worker.scheduler = scheduler
        try:
            worker.stop_scheduler()
            assert not process.is_alive()
            assert process.exitcode == -signal.SIGKILL
        finally:
            if process.is_alive():
                process.kill()

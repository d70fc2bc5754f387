"""RQ workers. Jobs run in the worker's own process (SimpleWorker): RQ's default forks a child
per job, and a forked child of a process that has run multi-threaded torch hangs on its next
torch op (pytorch issues 41197, 89693); in-process also keeps models loaded between jobs."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from enum import StrEnum
from functools import partial
from types import FrameType

from prometheus_client import start_http_server
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested

from fragrance_ai.platform.systemd import HealthNotifier
from fragrance_ai.queue import QueueName, RedisJobQueue
from fragrance_ai.runtime import build_runtime, install_runtime
from fragrance_ai.settings import ConfigError, Settings
from fragrance_ai.worker.reconciler import ReconcilerThread

log = logging.getLogger(__name__)


class WorkerKind(StrEnum):
    LLM = "llm"
    RL = "rl"


QUEUES_OF: dict[WorkerKind, QueueName] = {
    WorkerKind.LLM: QueueName.LLM_INFERENCE,
    WorkerKind.RL: QueueName.RL_TRAINING,
}


def worker_name_prefix(kind: WorkerKind, hostname: str) -> str:
    return f"{kind.value}-{hostname}-"


def run_worker(
    settings: Settings,
    kind: WorkerKind,
    *,
    burst: bool = False,
    queues: Sequence[QueueName] = (),
) -> None:
    """Works `queues`, by default the kind's own queue; `kind` names the worker."""
    if not settings.redis_url:
        raise ConfigError(
            "REDIS_URL: a standalone worker needs Redis; without it, `fragrance-ai dev` "
            "runs the workers inside the API process"
        )
    runtime = build_runtime(settings)
    install_runtime(runtime)
    assert isinstance(runtime.queue, RedisJobQueue)
    # Load what every job needs before the first one arrives, and keep it loaded.
    _ = runtime.catalogue
    if kind is WorkerKind.LLM:
        _ = runtime.brief_ensemble
    if kind is WorkerKind.RL:
        # The optimiser (DEAP, NumPy) is imported by the design job; import it now.
        import fragrance_ai.optimize.design  # noqa: F401
    if settings.worker_metrics_port is not None:
        # Job durations are recorded in this process, so it serves them itself.
        start_http_server(settings.worker_metrics_port, addr=settings.api_host)
        log.info("worker metrics on %s:%d", settings.api_host, settings.worker_metrics_port)
    names = [name.value for name in (queues or [QUEUES_OF[kind]])]
    prefix = f"{worker_name_prefix(kind, socket.gethostname())}{os.getpid()}"
    restarts = 0
    while True:
        # A fresh name per run: RQ refuses a birth under a name whose last run never
        # recorded its death (Redis was down when it stopped).
        worker = _Worker(
            [Queue(name, connection=runtime.queue.connection) for name in names],
            connection=runtime.queue.connection,
            name=prefix if restarts == 0 else f"{prefix}.{restarts}",
        )
        log.info("worker %s listening on %s", worker.name, ", ".join(names))
        # Live before the first job, and jobs of workers that are gone are put back: once
        # now, then every queue.reconcile_interval_s (fragrance_ai/worker/reconciler.py).
        reconciler = ReconcilerThread(runtime, worker.name).start()
        # Under systemd: ready once RQ has registered the worker, alive while its heartbeat
        # lasts.
        notifier = HealthNotifier(partial(rq_heartbeat_is_live, worker)).start()
        try:
            # SIGTERM and SIGINT are a warm shutdown in RQ: the running job finishes first.
            worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
        except RedisError as error:
            log.error("worker %s lost Redis: %s", worker.name, error)
        finally:
            notifier.stop()
            reconciler.stop()
        if burst or worker.stop_requested:
            return
        # RQ leaves its loop on an error it does not handle (Redis gone while a job ended);
        # the worker waits for Redis and works on, rather than exit with its queue unserved.
        restarts += 1
        log.error("worker %s stopped on an error; starting again once Redis answers", worker.name)
        try:
            _wait_for_redis(runtime.queue)
        except StopRequested:
            # SIGTERM while waiting: RQ's handler from the last run asks for the stop.
            return


class _Worker(SimpleWorker):
    """Remembers a stop asked for by a signal, to tell it from RQ leaving on an error."""

    stop_requested = False

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]


def _wait_for_redis(queue: RedisJobQueue) -> None:
    delay_s = 0.5
    while True:
        try:
            queue.connection.ping()
            return
        except RedisError:
            time.sleep(delay_s)
            delay_s = min(delay_s * 2, 10.0)


def rq_heartbeat_is_live(worker: SimpleWorker) -> tuple[bool, str]:
    """RQ's heartbeat keeps the worker's key alive (worker_ttl + 60 s idle, job timeout + 60 s
    during a job); once the main loop stops beating, the key expires."""
    try:
        live = bool(worker.connection.exists(worker.key))
    except RedisError as error:
        return False, f"redis unreachable: {error}"
    return live, f"{worker.name}: " + ("RQ heartbeat live" if live else "no live RQ heartbeat")

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

from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested

from fragrance_ai.platform.systemd import HealthCheck, HealthNotifier, Heartbeat
from fragrance_ai.queue import QueueName, RedisJobQueue
from fragrance_ai.runtime import build_runtime, install_runtime
from fragrance_ai.settings import ConfigError, Settings
from fragrance_ai.worker.probes import serve_probes, worker_readiness
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
    # The LLM worker's models: its /ready names any that the configuration names and that did
    # not load (fragrance_ai/worker/probes.py).
    models = runtime.brief_ensemble if kind is WorkerKind.LLM else None
    if kind is WorkerKind.RL:
        # The optimiser (DEAP, NumPy) is imported by the design job; import it now.
        import fragrance_ai.optimize.design  # noqa: F401
    # Beaten by the worker's loop (below): what feeds systemd's watchdog and /health.
    liveness = Heartbeat()
    if settings.worker_metrics_port is not None:
        # Job durations are recorded in this process, so it serves them itself, with /health
        # and /ready beside them.
        probes: dict[str, HealthCheck] = {
            "/health": liveness.check,
            "/ready": partial(worker_readiness, settings, liveness.check, models),
        }
        serve_probes(settings.api_host, settings.worker_metrics_port, probes)
        log.info(
            "worker metrics, /health and /ready on %s:%d",
            settings.api_host,
            settings.worker_metrics_port,
        )
    names = [name.value for name in (queues or [QUEUES_OF[kind]])]
    prefix = f"{worker_name_prefix(kind, socket.gethostname())}{os.getpid()}"
    # Under systemd: ready once RQ has registered the worker (its first heartbeat), alive while
    # the worker's loop beats: RQ's heartbeats, and the waits for Redis after RQ gave up on it.
    # A Redis outage is not a hang, and a restart would not end it; a loop that stops is one.
    notifier = HealthNotifier(liveness.check).start()
    restarts = 0
    while True:
        # A fresh name per run: RQ refuses a birth under a name whose last run never
        # recorded its death (Redis was down when it stopped).
        worker = _Worker(
            [Queue(name, connection=runtime.queue.connection) for name in names],
            connection=runtime.queue.connection,
            name=prefix if restarts == 0 else f"{prefix}.{restarts}",
        )
        worker.liveness = liveness
        log.info("worker %s listening on %s", worker.name, ", ".join(names))
        # Live before the first job, and jobs of workers that are gone are put back: once
        # now, then every queue.reconcile_interval_s (fragrance_ai/worker/reconciler.py).
        reconciler = ReconcilerThread(runtime, worker.name).start()
        try:
            # SIGTERM and SIGINT are a warm shutdown in RQ: the running job finishes first.
            worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
        except RedisError as error:
            log.error("worker %s lost Redis: %s", worker.name, error)
        finally:
            reconciler.stop()
        if burst or worker.stop_requested:
            notifier.stop()
            return
        # RQ leaves its loop on an error it does not handle (Redis gone while a job ended);
        # the worker waits for Redis and works on, rather than exit with its queue unserved.
        restarts += 1
        log.error("worker %s stopped on an error; starting again once Redis answers", worker.name)
        try:
            _wait_for_redis(runtime.queue, liveness, worker.name)
        except StopRequested:
            # SIGTERM while waiting: RQ's handler from the last run asks for the stop.
            notifier.stop()
            return


class _Worker(SimpleWorker):
    """Remembers a stop asked for by a signal, to tell it from RQ leaving on an error."""

    stop_requested = False
    liveness: Heartbeat | None = None

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        # Recorded before RQ writes it to Redis, which may fail: RQ's loop retrying Redis is
        # alive. The promise is RQ's own: worker_ttl + 60 s idle, job timeout + 60 s in a job.
        if self.liveness is not None:
            ttl_s = timeout or self.worker_ttl + 60
            self.liveness.beat(ttl_s, f"{self.name}: RQ heartbeat live")
        super().heartbeat(timeout, pipeline)


# Longer than the longest wait between two tries (10 s) plus a ping's own timeout.
_WAIT_BEAT_TTL_S = 60.0


def _wait_for_redis(queue: RedisJobQueue, liveness: Heartbeat, name: str) -> None:
    delay_s = 0.5
    while True:
        liveness.beat(_WAIT_BEAT_TTL_S, f"{name}: waiting for Redis")
        try:
            queue.connection.ping()
            return
        except RedisError:
            time.sleep(delay_s)
            delay_s = min(delay_s * 2, 10.0)

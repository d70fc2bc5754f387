"""RQ workers. Jobs run in the worker's own process (SimpleWorker): RQ's default forks a child
per job, and a forked child of a process that has run multi-threaded torch hangs on its next
torch op (pytorch issues 41197, 89693); in-process also keeps models loaded between jobs."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Sequence
from enum import StrEnum
from functools import partial
from types import FrameType
from typing import Any

from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.job import Job as RQJob

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
    """Works `queues`, by default the kind's own queue; `kind` names the worker.

    SIGTERM or SIGINT is a warm stop in every state: waiting for a job, waiting for Redis,
    registering with it or tearing down, the worker stops and returns (exit 0); a running job
    finishes first. A second signal during a job, a second or more after the first (RQ's cold
    shutdown: a second Ctrl+C), abandons the job: RQ records it failed, and its retry or the
    reconciler runs the step again; the worker returns all the same, with one warning and no
    traceback. Anywhere else a second signal changes nothing: the stop is under way."""
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
    # The LLM worker's models load in the background: a brief arriving meanwhile is designed
    # from what has loaded, never kept waiting. Its /ready names any that the configuration
    # names and that are loading or did not load (fragrance_ai/worker/probes.py).
    models = runtime.brief_ensemble if kind is WorkerKind.LLM else None
    if models is not None:
        models.start_loading()
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
    # From here on a SIGTERM or SIGINT is recorded whatever the worker is doing (_Worker).
    stop = _StopRequest()
    stop.install()
    restarts = 0
    while True:
        # A fresh name per run: RQ refuses a birth under a name whose last run never
        # recorded its death (Redis was down when it stopped).
        worker = _Worker(
            [Queue(name, connection=runtime.queue.connection) for name in names],
            connection=runtime.queue.connection,
            name=prefix if restarts == 0 else f"{prefix}.{restarts}",
            stop=stop,
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
        if burst or stop.requested:
            notifier.stop()
            stop.done()
            return
        # RQ leaves its loop on an error it does not handle (Redis gone while a job ended);
        # the worker waits for Redis and works on, rather than exit with its queue unserved.
        restarts += 1
        log.error("worker %s stopped on an error; starting again once Redis answers", worker.name)
        _wait_for_redis(runtime.queue, liveness, worker.name, stop)
        if stop.requested:
            notifier.stop()
            stop.done()
            return


class _StopRequest:
    """A SIGTERM or SIGINT, kept for the whole run: RQ keeps its own on the worker object, and
    run_worker makes a new one each time Redis comes back."""

    def __init__(self) -> None:
        self.first_at: float | None = None

    @property
    def requested(self) -> bool:
        return self.first_at is not None

    def note(self) -> bool:
        """Records the stop; True for the first signal."""
        if self.first_at is not None:
            return False
        self.first_at = time.monotonic()
        return True

    def install(self) -> None:
        """Until an RQ loop takes over, a signal is recorded, and the next loop ends before
        its first job."""
        signal.signal(signal.SIGTERM, self._record)
        signal.signal(signal.SIGINT, self._record)

    def done(self) -> None:
        """The worker is leaving: a signal from now on is ignored. As Python finalizes (a second
        or more on a busy machine) it gives a handled signal back its default action, and a
        late SIGTERM would end the process by the signal (exit -15)."""
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        if self.note():
            log.info("%s: warm shut down requested", signal.Signals(signum).name)


class _ColdStop(SystemExit):
    """Raised into a running job by a second signal. A SystemExit, as RQ's own cold shutdown,
    which RQ's loop lets through and which would end the process quietly with exit 0."""


class _Worker(SimpleWorker):
    """RQ's worker with a warm stop in every state (issue 22).

    RQ's handler raises StopRequested wherever the main thread is, though only RQ's loop catches
    it, and stays installed after the loop; during a job it writes to Redis. So a SIGTERM while
    RQ tore down (its death record in Redis, slow on a busy machine) escaped as a traceback,
    exit 1; while run_worker waited for Redis after a job, the write failed, exit 1; while the
    next worker registered, the stop was lost; before RQ's loop, none was installed (exit -15).
    Here StopRequested is raised only inside RQ's loop and outside a job; anywhere else the stop
    is recorded in `stop`, which every worker of the run shares, and taken at the next step. A
    handler makes no Redis call."""

    liveness: Heartbeat | None = None

    def __init__(self, *args: Any, stop: _StopRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stop = stop
        self._in_loop = False
        self._running_job: str | None = None

    def work(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return bool(super().work(*args, **kwargs))
        except (StopRequested, _ColdStop):
            # Raised in the instant between RQ's loop and its teardown: tear down here.
            if self._in_loop:
                self.teardown()
            return False

    def _install_signal_handlers(self) -> None:
        # RQ calls this just before its loop.
        handler = self.request_force_stop if self._stop.requested else self.request_stop
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        self._in_loop = True
        if self._stop.requested:
            # Asked for while this worker registered: the loop ends before its first job.
            self._stop_requested = True

    def teardown(self) -> None:
        self._in_loop = False
        super().teardown()  # type: ignore[no-untyped-call]

    def unsubscribe(self) -> None:
        """RQ's own, bounded. It sends UNSUBSCRIBE on the connection its pubsub thread reads
        from, then closes it; after a Redis restart the two race on that connection (redis-py's
        thread dies on the reply with a KeyError), and one CI run's worker then never got past
        its teardown. The channel goes with the connection anyway: a stop waits for it at most
        _UNSUBSCRIBE_WAIT_S."""
        unsubscribing = threading.Thread(
            target=super().unsubscribe, name="rq-unsubscribe", daemon=True
        )
        unsubscribing.start()
        unsubscribing.join(timeout=_UNSUBSCRIBE_WAIT_S)
        if unsubscribing.is_alive():
            log.warning(
                "worker %s: RQ's pubsub did not close in %.0f s; leaving it to the process's end",
                self.name,
                _UNSUBSCRIBE_WAIT_S,
            )

    def stop_scheduler(self) -> None:
        """RQ's own, bounded. RQ sends the scheduler's process SIGTERM and joins it with no
        timeout; the scheduler is forked from this process while its threads run (RQ restarts
        it once Redis is back after an outage), and a fork can inherit a lock another thread
        held, so the child may never reach its signal check. In one clean-clone CI run a
        worker was still tearing down a minute after its SIGTERM, once Redis had restarted.
        Its locks expire on their own (interval + 60 s): after _SCHEDULER_STOP_WAIT_S the
        scheduler is killed."""
        scheduler = self.scheduler
        process = scheduler._process if scheduler is not None else None
        if process is None or not process.pid:
            return
        with contextlib.suppress(OSError):  # already gone
            os.kill(process.pid, signal.SIGTERM)
        process.join(timeout=_SCHEDULER_STOP_WAIT_S)
        if process.is_alive():
            log.warning(
                "worker %s: RQ's scheduler (pid %s) did not stop in %.0f s; killed",
                self.name,
                process.pid,
                _SCHEDULER_STOP_WAIT_S,
            )
            process.kill()
            process.join(timeout=_SCHEDULER_STOP_WAIT_S)

    def execute_job(self, job: RQJob, queue: Queue) -> None:
        self._running_job = job.id
        try:
            super().execute_job(job, queue)
        finally:
            self._running_job = None

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """The first SIGTERM or SIGINT: RQ's loop ends at its next turn, after a running job;
        a wait for a job or for Redis inside the loop ends now."""
        if self._stop.note():
            self.handle_warm_shutdown_request()  # type: ignore[no-untyped-call]
        self._stop_requested = True
        signal.signal(signal.SIGTERM, self.request_force_stop)
        signal.signal(signal.SIGINT, self.request_force_stop)
        if self._in_loop and self._running_job is None:
            raise StopRequested  # caught by RQ's loop, which tears down

    def request_force_stop(self, signum: int, frame: FrameType | None) -> None:
        """A second SIGTERM or SIGINT: RQ's cold shutdown, for a running job only."""
        first_at = self._stop.first_at
        if self._running_job is None or (
            first_at is not None and time.monotonic() - first_at < 1.0
        ):
            # Nothing to abandon: the stop is under way. Or, as RQ has it, the same stop sent
            # twice (by a worker pool and by the terminal).
            return
        log.warning(
            "worker %s: cold shut down: RQ job %s abandoned to its retry and the reconciler",
            self.name,
            self._running_job,
        )
        raise _ColdStop

    def handle_exception(self, job: RQJob, *exc_info: Any) -> None:
        # RQ logs a job's exception with its traceback; a cold stop is no error of the job's,
        # and request_force_stop said so in one line.
        if not isinstance(exc_info[1], _ColdStop):
            super().handle_exception(job, *exc_info)

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        # Recorded before RQ writes it to Redis, which may fail: RQ's loop retrying Redis is
        # alive. The promise is RQ's own: worker_ttl + 60 s idle, job timeout + 60 s in a job.
        if self.liveness is not None:
            ttl_s = timeout or self.worker_ttl + 60
            self.liveness.beat(ttl_s, f"{self.name}: RQ heartbeat live")
        super().heartbeat(timeout, pipeline)


# RQ's unsubscribe waits 1 s for its pubsub thread, then closes a socket: seconds at most.
_UNSUBSCRIBE_WAIT_S = 10.0

# The scheduler checks for a stop after each second's sleep: a few seconds on a busy machine.
_SCHEDULER_STOP_WAIT_S = 10.0

# Longer than the longest wait between two tries (10 s) plus a ping's own timeout.
_WAIT_BEAT_TTL_S = 60.0


def _wait_for_redis(
    queue: RedisJobQueue, liveness: Heartbeat, name: str, stop: _StopRequest
) -> None:
    """Returns once Redis answers, or at once on a SIGTERM or SIGINT."""
    delay_s = 0.5
    while not stop.requested:
        liveness.beat(_WAIT_BEAT_TTL_S, f"{name}: waiting for Redis")
        try:
            queue.connection.ping()
            return
        except RedisError:
            deadline = time.monotonic() + delay_s
            while not stop.requested and time.monotonic() < deadline:
                time.sleep(0.1)
            delay_s = min(delay_s * 2, 10.0)

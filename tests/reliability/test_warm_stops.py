"""SIGTERM, once or twice, stops a worker warmly whatever it is doing: waiting for a job, running
one, reconnecting to Redis or tearing down. It exits 0 without a traceback; a running job
finishes first, or, on a second SIGTERM a second or more after the first, is abandoned to its
retry and the reconciler (fragrance_ai/worker/main.py). Issue 22: a SIGTERM during RQ's
teardown escaped as StopRequested, exit 1 with a traceback.

Each state is caught on purpose, not by timing: every round has a Redis of its own behind a
proxy (tests/reliability/flaky_redis.py) that the test kills, brings back, or holds on the one
request that marks the state (the worker's death record: tearing down; its birth record:
registering again once Redis is back). Five rounds a state run side by side."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Retry, SimpleWorker
from rq.job import Job as RQJob
from rq.job import JobStatus as RQStatus

from fragrance_ai.db.models import Brief, Job, JobKind, JobStatus
from fragrance_ai.queue import QueueName
from fragrance_ai.runtime import Runtime
from fragrance_ai.worker.main import WorkerKind, worker_name_prefix
from tests.reliability import steps
from tests.reliability.flaky_redis import FlakyRedis
from tests.reliability.stack import (
    BRIEFS,
    Processes,
    command,
    stack_environment,
    wait_for,
    with_group_gone,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROUNDS = 5


class _Round:
    """One `fragrance-ai worker rl` on a Redis of its own."""

    def __init__(self, directory: Path, postgres_url: str) -> None:
        directory.mkdir()
        self.redis = FlakyRedis()
        self.connection: Redis = self.redis.connection()
        self.processes = Processes(directory)
        self.environment = stack_environment(directory, postgres_url, self.redis.url)
        self._worker: subprocess.Popen[bytes] | None = None

    @property
    def worker(self) -> subprocess.Popen[bytes]:
        assert self._worker is not None
        return self._worker

    def start(self, *args: str) -> None:
        self._worker = self.processes.start(command("worker", "rl", *args), self.environment)

    @property
    def output(self) -> str:
        return self.processes.log_of(self.worker)

    def until(self, condition: Callable[[], object], what: str) -> None:
        wait_for(lambda: condition() or self.worker.poll() is not None, timeout_s=90, what=what)
        assert self.worker.poll() is None, f"{what}: the worker exited\n{self.output[-4000:]}"

    def waits_for_a_job(self) -> bool:
        name = worker_name_prefix(WorkerKind.RL, socket.gethostname()) + str(self.worker.pid)
        key = SimpleWorker.redis_worker_namespace_prefix + name
        return self.connection.hget(key, "state") == b"idle"

    def signal(self, times: int, *, gap_s: float = 1.2) -> int:
        """SIGTERM `times` times, the second `gap_s` after the worker took the first (RQ takes
        two within a second for one); returns where the log stood at the first."""
        since = len(self.output)
        self.worker.send_signal(signal.SIGTERM)
        if times == 2:
            wait_for(
                lambda: (
                    "warm shut down requested" in self.output[since:].lower()
                    or self.worker.poll() is not None
                ),
                timeout_s=30,
                what="the worker takes the first SIGTERM",
            )
            time.sleep(gap_s)
            self.worker.send_signal(signal.SIGTERM)  # no-op once it has exited
        return since

    def assert_warm_exit(self, since: int = 0) -> str:
        """Exit 0, and no traceback in the log from `since` on."""
        try:
            code = self.worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"never stopped\n{self.output[-3000:]}")
        output = self.output
        after = output[since:]
        assert code == 0, f"exit {code}{_last_exception(after)}\n{after[-3000:]}"
        assert "Traceback" not in after, f"a traceback{_last_exception(after)}\n{after[-3000:]}"
        with_group_gone(self.worker.pid)
        return output

    def rq_scheduler_gone(self) -> bool:
        """RQ's scheduler, a child process, has died with Redis (and said so, with a
        traceback of its own that comes before any SIGTERM)."""
        return not _live_children(self.worker.pid)

    def close(self) -> None:
        self.processes.close()
        self.connection.close()
        self.redis.close()


def _last_exception(log: str) -> str:
    found = re.findall(r"^(?:\w+\.)*\w+(?:Error|Exception|Requested|Exit)\b.*$", log, re.M)
    return f": {found[-1]}" if found else ""


def _live_children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry))
    return found


def _enqueue(runtime: Runtime, r: _Round, step: Callable[[str], None]) -> tuple[uuid.UUID, RQJob]:
    with runtime.sessions() as session:
        brief = Brief(id=uuid.uuid4(), text=BRIEFS[0], mode="balanced")
        job = Job(id=uuid.uuid4(), kind=JobKind.DESIGN_FROM_BRIEF.value, brief_id=brief.id)
        session.add_all([brief, job])
        session.commit()
    queue = Queue(QueueName.RL_TRAINING.value, connection=r.connection)
    return job.id, queue.enqueue(step, str(job.id), retry=Retry(max=2, interval=[1, 1]))


def _status(runtime: Runtime, job_id: uuid.UUID) -> str:
    with runtime.sessions() as session:
        return session.get_one(Job, job_id).status


def _delivered(r: _Round, job_id: uuid.UUID) -> Callable[[], bool]:
    return lambda: len(steps.deliveries(r.connection, str(job_id))) == 1


def _waiting(r: _Round, variant: int, runtime: Runtime) -> None:
    r.start()
    r.until(r.waits_for_a_job, "the worker waits for a job")
    time.sleep(0.2)  # inside its blocking pop
    # Twice: the second lands while it tears down (its scheduler process takes up to 1 s).
    r.signal(1 + variant % 2, gap_s=0.3)
    r.assert_warm_exit()


def _running(r: _Round, variant: int, runtime: Runtime) -> None:
    twice = variant % 2 == 1
    job_id, rq_job = _enqueue(runtime, r, steps.sleeps_20_s if twice else steps.sleeps_3_s)
    r.start()
    r.until(_delivered(r, job_id), "the worker runs the job")
    r.signal(2 if twice else 1)
    output = r.assert_warm_exit()
    if twice:
        # A cold stop: the job is abandoned, and RQ's retry (a worker on this queue) or the
        # reconciler runs it again.
        assert "cold shut down" in output, output[-4000:]
        assert _status(runtime, job_id) == JobStatus.STARTED.value
        assert rq_job.get_status(refresh=True) is RQStatus.SCHEDULED
    else:
        assert _status(runtime, job_id) == JobStatus.FINISHED.value


def _reconnecting(r: _Round, variant: int, runtime: Runtime) -> None:
    if variant < 2:
        # Redis gone while the worker waits for a job: RQ's loop retries it.
        r.start()
        r.until(r.waits_for_a_job, "the worker waits for a job")
        r.redis.kill()
    else:
        # Redis gone as a job ends: RQ leaves its loop and run_worker waits for Redis.
        job_id, _ = _enqueue(runtime, r, steps.sleeps_3_s)
        r.start()
        r.until(_delivered(r, job_id), "the worker runs the job")
        r.redis.kill()
        r.until(lambda: "starting again once Redis answers" in r.output, "the worker waits")
    r.until(r.rq_scheduler_gone, "RQ's scheduler process gone with Redis")
    if variant == 4:
        # Redis back, but slow to take the worker's registration: SIGTERM while it registers.
        r.redis.hold(b"\r\nbirth\r\n")
        r.redis.revive()
        r.until(r.redis.held.is_set, "the worker registers again")
    since = r.signal(1 + variant % 2)
    time.sleep(0.3)
    r.redis.release()
    r.assert_warm_exit(since)


def _tearing_down(r: _Round, variant: int, runtime: Runtime) -> None:
    r.redis.hold(b"\r\ndeath\r\n")
    if variant == 2:
        # A warm stop's teardown, and a second SIGTERM in the middle of it.
        r.start()
        r.until(r.waits_for_a_job, "the worker waits for a job")
        r.worker.send_signal(signal.SIGTERM)
        r.until(r.redis.held.is_set, "the worker records its death")
        time.sleep(1.2)
        r.worker.send_signal(signal.SIGTERM)
    else:
        # The end of a burst run: a teardown nothing asked for, and SIGTERM in it.
        r.start("--burst")
        r.until(r.redis.held.is_set, "the worker records its death")
        r.signal(1 + variant % 2)
    time.sleep(0.3)
    r.redis.release()
    r.assert_warm_exit()


STATES: dict[str, Callable[[_Round, int, Runtime], None]] = {
    "waiting": _waiting,
    "running": _running,
    "reconnecting": _reconnecting,
    "tearing_down": _tearing_down,
}
VARIANTS = {
    "waiting": ("once", "twice") * 2 + ("once",),
    "running": ("once, the job finishes", "twice, the job is abandoned") * 2
    + ("once, the job finishes",),
    "reconnecting": (
        "RQ's loop retries Redis, once",
        "RQ's loop retries Redis, twice",
        "run_worker waits for Redis, once",
        "run_worker waits for Redis, twice",
        "registering again with a slow Redis, once",
    ),
    "tearing_down": (
        "a burst run's end, once",
        "a burst run's end, twice",
        "a warm stop's teardown, a second SIGTERM in it",
        "a burst run's end, once",
        "a burst run's end, twice",
    ),
}


@pytest.mark.parametrize("state", list(STATES))
def test_sigterm_once_or_twice_stops_the_worker_with_exit_0_and_no_traceback(
    state: str, tmp_path: Path, services_runtime: Runtime, postgres_url: str
) -> None:
    scenario = STATES[state]
    rounds = [_Round(tmp_path / f"round-{i}", postgres_url) for i in range(ROUNDS)]
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(ROUNDS) as pool:
            futures = [pool.submit(scenario, r, i, services_runtime) for i, r in enumerate(rounds)]
        failed = [(i, future.exception()) for i, future in enumerate(futures)]
    finally:
        for r in rounds:
            r.close()
    failures = [
        f"round {i} ({VARIANTS[state][i]}): {error}" for i, error in failed if error is not None
    ]
    if failures:
        pytest.fail(f"{len(failures)} of {ROUNDS} rounds failed:\n" + "\n\n".join(failures))
    print(f"\nwarm stops while {state}: {ROUNDS} rounds in {time.monotonic() - started:.1f} s")

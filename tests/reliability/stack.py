"""Real processes for the fault tests: workers and the API as `fragrance-ai` subprocesses,
private Redis and PostgreSQL servers, and settings that make a job take about a second."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select

from fragrance_ai.db.models import Brief, Formula, Job, JobKind, JobStatus
from fragrance_ai.jobs.steps import parse_brief
from fragrance_ai.queue import QueueName
from fragrance_ai.runtime import Runtime
from fragrance_ai.settings import (
    CONFIG_FILES,
    DESIGN_FILE,
    ENSEMBLE_FILE,
    SERVICE_FILE,
    TRAINING_FILE,
    InferenceMode,
    OptimizerSettings,
)

BRIEFS = [
    "fresh citrus cologne for summer with a woody base",
    "a warm amber oriental for winter evenings",
    "green tea and fig, light and airy",
    "powdery iris and violet with a musky drydown",
]


def fast_config_dir(
    directory: Path, *, search: dict[str, int] | None = None, **queue: object
) -> Path:
    """The defaults without the shipped profiles (no model loads: every LLM role falls back
    to the deterministic parser), a search small enough to take about a second (or
    `search`), and the reconciler looking every second."""
    step = search or {"population": 8, "generations": 4}
    defaults: dict[str, dict[str, Any]] = {
        ENSEMBLE_FILE: {},
        SERVICE_FILE: {
            "queue": {
                "retry_intervals_s": [1, 1],
                "reconcile_interval_s": 1,
                "worker_liveness_ttl_s": 1.5,
                **queue,
            }
        },
        DESIGN_FILE: {"optimizer": {"modes": {mode.value: dict(step) for mode in InferenceMode}}},
        TRAINING_FILE: {},
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name in CONFIG_FILES:
        (directory / name).write_text(yaml.safe_dump({"defaults": defaults[name]}))
    return directory


def stack_environment(
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    *,
    search: dict[str, int] | None = None,
    **queue: object,
) -> dict[str, str]:
    return {
        **os.environ,
        "APP_ENV": "staging",  # no staging.env in the fast config dir: nothing else is read
        "FRAGRANCE_AI_CONFIG_DIR": str(
            fast_config_dir(tmp_path / "config", search=search, **queue)
        ),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "INFO",
    }


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "fragrance_ai.cli", *args]


class Processes:
    """Subprocesses in sessions of their own (a SIGKILL takes the whole group, RQ's forked
    scheduler too, as systemd's cgroup kill does); each one's exit code is checked."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.started = 0

    def start(self, args: list[str], environment: dict[str, str]) -> subprocess.Popen[bytes]:
        self.started += 1
        log_path = self.log_dir / f"process-{self.started:02d}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                args, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.running.append((process, log_path))
        return process

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        for candidate, path in self.running:
            if candidate is process:
                return path.read_text(errors="replace")
        return ""

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL

    def stop(self, process: subprocess.Popen[bytes], *, timeout_s: float = 60) -> None:
        """A warm stop: SIGTERM, then exit 0 (`fragrance-ai serve` catches the SIGTERM
        uvicorn raises again after its shutdown; an RQ worker finishes its job first)."""
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=timeout_s)
        assert code == 0, (code, self.log_of(process)[-4000:])
        # The rest of the group (RQ's scheduler) goes with it.
        with_group_gone(process.pid)

    def close(self) -> None:
        for process, _ in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
            with_group_gone(process.pid)


def with_group_gone(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return


def wait_for(condition: Callable[[], Any], *, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within {timeout_s} s")


def submit(runtime: Runtime, text: str) -> uuid.UUID:
    """What POST /v1/briefs does: the rows committed, then the first step enqueued."""
    with runtime.sessions() as session:
        brief = Brief(id=uuid.uuid4(), text=text, mode="balanced")
        job = Job(id=uuid.uuid4(), kind=JobKind.DESIGN_FROM_BRIEF.value, brief_id=brief.id)
        session.add_all([brief, job])
        session.commit()
    runtime.queue.enqueue(QueueName.LLM_INFERENCE, parse_brief, str(job.id))
    return job.id


def statuses(runtime: Runtime, job_ids: list[uuid.UUID]) -> dict[uuid.UUID, Job]:
    with runtime.sessions() as session:
        rows = session.scalars(select(Job).where(Job.id.in_(job_ids))).all()
        return {row.id: row for row in rows}


def all_ended(runtime: Runtime, job_ids: list[uuid.UUID]) -> bool:
    rows = statuses(runtime, job_ids)
    ended = (JobStatus.FINISHED.value, JobStatus.FAILED.value)
    return len(rows) == len(job_ids) and all(row.status in ended for row in rows.values())


def assert_each_finished_once(runtime: Runtime, job_ids: list[uuid.UUID]) -> int:
    """Every job finished, and stored exactly the formulas its result names; returns the
    number of duplicate formulas found (0)."""
    rows = statuses(runtime, job_ids)
    failed = {str(job_id): row.error for job_id, row in rows.items() if row.status != "finished"}
    assert not failed, failed
    with runtime.sessions() as session:
        stored = dict(
            session.execute(
                select(Formula.job_id, func.count())
                .where(Formula.job_id.in_(job_ids))
                .group_by(Formula.job_id)
            ).all()
        )
        per_brief = dict(
            session.execute(
                select(Formula.brief_id, func.count())
                .where(Formula.brief_id.in_([row.brief_id for row in rows.values()]))
                .group_by(Formula.brief_id)
            ).all()
        )
    duplicates = 0
    for job_id, row in rows.items():
        assert row.result is not None
        named = len(row.result["formula_ids"])
        assert named >= 1
        duplicates += stored.get(job_id, 0) - named
        duplicates += per_brief.get(row.brief_id, 0) - named
    return duplicates


@contextmanager
def private_redis(port: int) -> Iterator[Callable[[], None]]:
    """A redis-server of this test's own on `port`, without persistence; yields a function
    that kills it (SIGKILL) and starts it again, empty."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    arguments = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    state: dict[str, subprocess.Popen[bytes]] = {}

    def start() -> None:
        state["server"] = subprocess.Popen(
            arguments, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        connection = Redis(port=port, socket_connect_timeout=1)
        try:
            wait_for(lambda: _pings(connection), timeout_s=20, what="private redis answers")
        finally:
            connection.close()

    def restart() -> None:
        server = state["server"]
        server.kill()
        assert server.wait(timeout=20) == -signal.SIGKILL
        start()

    start()
    try:
        yield restart
    finally:
        server = state["server"]
        server.terminate()
        code = server.wait(timeout=20)
        assert code in (0, -signal.SIGTERM), code


def _pings(connection: Redis) -> bool:
    try:
        return bool(connection.ping())
    except RedisError:
        return False


PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PrivateCluster:
    """A PostgreSQL cluster of this test's own, run as the `postgres` user (initdb and
    postgres refuse root), on a free port with its socket in its own directory."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="fragrance-pg-", dir="/tmp"))
        self.data = self.root / "data"
        shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"
        )

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_postgres(
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "-w",
                "stop",
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)

    def _as_postgres(self, *arguments: str, check: bool = True) -> None:
        completed = subprocess.run(
            ["runuser", "-u", "postgres", "--", *arguments],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.root,
        )
        if check:
            assert completed.returncode == 0, completed.stdout + completed.stderr

    @staticmethod
    def available() -> bool:
        return (
            os.geteuid() == 0
            and (PG_BIN / "initdb").exists()
            and shutil.which("runuser") is not None
        )


def fast_optimizer() -> OptimizerSettings:
    """Every mode's search small enough for a design step of about a second."""
    modes = {
        mode: search.model_copy(update={"population": 8, "generations": 4})
        for mode, search in OptimizerSettings().modes.items()
    }
    return OptimizerSettings(modes=modes)

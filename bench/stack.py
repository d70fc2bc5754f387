"""What the stack benchmarks share: a throwaway PostgreSQL database, a Redis database they
flush, and the real processes, stopped with SIGTERM and killed if they do not stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
STOP_TIMEOUT_S = 60


@contextmanager
def throwaway_postgres(admin_url: str) -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards; yields its URL."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"fragrance_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def flush_redis(url: str) -> None:
    with Redis.from_url(url) as connection:
        connection.flushdb()


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "fragrance_ai.cli", *args]


def run_command(args: list[str], environment: dict[str, str], *, timeout_s: float = 300) -> str:
    completed = subprocess.run(
        args, env=environment, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{args!r} exited {completed.returncode}: {completed.stderr}")
    return completed.stdout


class Processes:
    """Child processes, each logging to its own file; `stop_all` stops them warmly."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], environment: dict[str, str]) -> None:
        with (self.log_dir / f"{name}.log").open("wb") as log:
            self.running[name] = subprocess.Popen(
                args, env=environment, stdout=log, stderr=subprocess.STDOUT
            )

    def check_alive(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited {process.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, name: str) -> int:
        """SIGTERM (the API drains, a worker finishes its job), then the exit code; SIGKILL
        after STOP_TIMEOUT_S, which is an error."""
        process = self.running.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
            raise RuntimeError(f"{name} did not stop within {STOP_TIMEOUT_S} s") from None

    def stop_all(self) -> dict[str, int]:
        codes: dict[str, int] = {}
        errors: list[str] = []
        for name in list(self.running):
            try:
                codes[name] = self.stop(name)
            except RuntimeError as error:
                errors.append(str(error))
        if errors:
            raise RuntimeError("; ".join(errors))
        return codes


def wait_until_answers(
    base_url: str, path: str, processes: Processes, timeout_s: float, *, interval_s: float = 0.2
) -> None:
    """Polls GET `path` until it answers 200, failing at once if a child process died."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=base_url, timeout=5) as client:
        while time.monotonic() < deadline:
            processes.check_alive()
            try:
                if client.get(path).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(interval_s)
    raise RuntimeError(f"{path} did not answer 200 within {timeout_s:g} s")

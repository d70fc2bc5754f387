"""Stopping the real processes as a service manager does (SIGTERM): `fragrance-ai serve`
drains (the requests in flight get their normal answer, new connections are refused, exit 0)
and `fragrance-ai worker` stops warmly (the running job finishes, exit 0).

A request is held in flight by sending `Expect: 100-continue` and no body: the server says
`100 Continue` once the app is waiting for the body, so the test knows the request is inside
the app before it signals, and sends the body after the server has stopped accepting.
`fragrance-ai dev` has its own test (tests/test_dev_command.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from fragrance_ai.db.models import Job
from tests.helpers import CHYPRE, free_port, wait_until_answering

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

STOP_TIMEOUT_S = 60
SLOW_CLIENT_S = 1.5

CHECK_BODY = {"lines": CHYPRE, "product": "EDP"}
BRIEF_BODY = {"text": "fresh citrus cologne for summer with a woody base"}


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "fragrance_ai.cli", *args]


def _log_tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-40:])


def _start(args: list[str], environment: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # A process group of its own: RQ forks its scheduler into a child process, which a kill
    # of the worker alone would leave running.
    with log.open("wb") as output:
        return subprocess.Popen(
            _command(*args),
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the process and everything it started, if anything is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_TIMEOUT_S)


def _group_is_gone(process: subprocess.Popen[bytes]) -> bool:
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return True
    return False


def _stop(process: subprocess.Popen[bytes], log: Path) -> int:
    """SIGTERM, then the exit code; killed (and the test failed) if it does not stop."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _kill(process)
        pytest.fail(f"{process.args!r} did not stop within {STOP_TIMEOUT_S} s:\n{_log_tail(log)}")


@pytest.fixture
def environment(tmp_path: Path, postgres_url: str, redis_url: str) -> dict[str, str]:
    environment = {
        **os.environ,
        # The development profile takes requests without an API key (not what is tested here).
        "APP_ENV": "development",
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "DATA_DIR": str(tmp_path),
        "API_PORT": str(free_port()),
        "LOG_LEVEL": "INFO",
    }
    migrated = subprocess.run(
        _command("migrate"), env=environment, capture_output=True, timeout=120, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    return environment


@pytest.fixture
def serve(tmp_path: Path, environment: dict[str, str]) -> Iterator[_Server]:
    log = tmp_path / "api.log"
    process = _start(["serve"], environment, log)
    server = _Server(process, log, int(environment["API_PORT"]))
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            wait_until_answering(client, process, "/ready")
        yield server
    finally:
        _kill(process)


class _Server:
    def __init__(self, process: subprocess.Popen[bytes], log: Path, port: int) -> None:
        self.process, self.log, self.port = process, log, port
        self.url = f"http://127.0.0.1:{port}"

    def refuses_connections(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
        except ConnectionRefusedError:
            return True
        return False


class _Connection:
    """An HTTP/1.1 connection read by hand, to see exactly what the server sends and when."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def read_head(self) -> bytes:
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed before a full head: {self.buffer!r}")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        return head

    def read_response(self) -> tuple[int, dict[str, str], Any]:
        """The next final answer's status, headers and JSON body."""
        lines = self.read_head().decode().split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers["content-length"])
        while len(self.buffer) < length:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed mid-body"
            self.buffer += chunk
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, json.loads(body)

    def closed_by_server(self) -> bool:
        return self.buffer == b"" and self.sock.recv(65536) == b""


class _HeldRequest(_Connection):
    """A POST whose body is held back until `finish`, on a connection of its own."""

    def __init__(self, port: int, path: str, body: dict[str, Any]) -> None:
        super().__init__(port)
        self.body = json.dumps(body).encode()
        self.sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(self.body)}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        # Sent once the app waits for the body: the request is inside the app.
        interim = self.read_head()
        assert interim.startswith(b"HTTP/1.1 100 "), interim

    def finish(self) -> tuple[int, dict[str, str], Any]:
        self.sock.sendall(self.body)
        answer = self.read_response()
        self.sock.close()
        return answer


def _wait_until(condition: Any, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout_s} s")
        time.sleep(0.05)


def test_serve_on_sigterm_answers_the_requests_in_flight_refuses_new_ones_and_exits_0(
    serve: _Server, environment: dict[str, str]
) -> None:
    with httpx.Client(base_url=serve.url, timeout=30) as client:
        expected_check = client.post("/v1/formulas/check", json=CHECK_BODY).json()
        idle = _Connection(serve.port)
        idle.sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert idle.read_response()[0] == 200
    checking = _HeldRequest(serve.port, "/v1/formulas/check", CHECK_BODY)
    briefing = _HeldRequest(serve.port, "/v1/briefs", BRIEF_BODY)

    serve.process.send_signal(signal.SIGTERM)
    _wait_until(serve.refuses_connections, "new connections refused")
    # A slow client: the bodies come a while after the server began to stop, not within
    # the moment uvicorn's shutdown takes before it starts waiting for requests.
    time.sleep(SLOW_CLIENT_S)
    assert serve.process.poll() is None, "it must wait for the requests in flight"
    # An idle keep-alive connection is closed, not waited for.
    assert idle.closed_by_server()
    idle.sock.close()

    status, _, checked = checking.finish()
    assert (status, checked) == (200, expected_check)
    status, headers, accepted = briefing.finish()
    assert status == 202, accepted
    # The app's shutdown (closing the database and Redis) waited for this request too: the
    # brief is saved and its job queued.
    assert headers["location"] == f"/v1/jobs/{accepted['job_id']}"
    code = _stop(serve.process, serve.log)
    assert code == 0, _log_tail(serve.log)
    with Redis.from_url(environment["REDIS_URL"]) as redis:
        queued = [job_id.decode() for job_id in redis.lrange("rq:queue:llm_inference", 0, -1)]
    assert queued == [f"{accepted['job_id']}-parse_brief"]
    log = serve.log.read_text()
    assert "Application shutdown complete" in log
    assert "stopped by SIGTERM" in log
    assert "Traceback" not in log


def test_serve_cancels_a_request_that_outlasts_the_shutdown_timeout_and_exits_0(
    tmp_path: Path, environment: dict[str, str]
) -> None:
    log = tmp_path / "api.log"
    environment = {**environment, "API_SHUTDOWN_TIMEOUT_S": "2"}
    process = _start(["serve"], environment, log)
    try:
        port = int(environment["API_PORT"])
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            wait_until_answering(client, process, "/ready")
        # A client that never sends its body: without the timeout the server would wait
        # for it until the service manager's SIGKILL.
        stuck = _HeldRequest(port, "/v1/formulas/check", CHECK_BODY)
        signalled = time.monotonic()
        code = _stop(process, log)
        took_s = time.monotonic() - signalled
        stuck.sock.close()
    finally:
        _kill(process)
    assert code == 0, _log_tail(log)
    assert 2 <= took_s < 20, took_s
    assert "timeout graceful shutdown exceeded" in log.read_text()


def test_a_worker_on_sigterm_finishes_the_running_design_job_and_exits_0(
    tmp_path: Path, environment: dict[str, str]
) -> None:
    # One worker serves both queues, so the brief is designed without loading the LLM: the
    # perfumer's corrected brief needs no reading.
    search = {"population": 24, "generations": 40, "objectives": ["brief_fit", "cost"]}
    environment = {
        **environment,
        "OPTIMIZER__MODES": json.dumps({mode: search for mode in ("fast", "balanced", "creative")}),
    }
    log = tmp_path / "worker.log"
    worker = _start(
        ["worker", "rl", "--queue", "llm_inference", "--queue", "rl_training"], environment, log
    )
    engine = create_engine(environment["DATABASE_URL"])
    try:
        job_id = _submit_corrected_brief(tmp_path, environment)

        def job() -> Job:
            with Session(engine) as session:
                row = session.scalars(select(Job).where(Job.id == job_id)).one()
                session.expunge(row)
                return row

        def design_running() -> bool:
            assert worker.poll() is None, _log_tail(log)
            return (job().stage or "").startswith("design_formulas: generation")

        # Signalled while the search runs, generations before its end.
        _wait_until(design_running, "the design job running", timeout_s=120)
        worker.send_signal(signal.SIGTERM)
        at_signal = job()
        code = _stop(worker, log)
        ended = job()
        # RQ's scheduler, a child process, stopped with it.
        _wait_until(lambda: _group_is_gone(worker), "every process of the worker gone")
    finally:
        engine.dispose()
        _kill(worker)
    assert at_signal.status == "started", at_signal.stage
    assert at_signal.progress < 0.9, at_signal.stage
    assert code == 0, _log_tail(log)
    assert ended.status == "finished", (ended.status, ended.error)
    assert ended.result is not None
    assert len(ended.result["formula_ids"]) >= 3
    assert ended.attempts == 2  # parse_brief, design_formulas: no step was run twice
    assert at_signal.finished_at is None
    assert ended.finished_at is not None
    text = log.read_text().lower()
    assert "warm shut down requested" in text
    assert "traceback" not in text


def _submit_corrected_brief(tmp_path: Path, environment: dict[str, str]) -> uuid.UUID:
    from fastapi.testclient import TestClient

    from fragrance_ai.api.app import create_app
    from fragrance_ai.runtime import build_runtime, install_runtime
    from tests.conftest import make_settings

    runtime = build_runtime(
        make_settings(
            tmp_path,
            database_url=environment["DATABASE_URL"],
            redis_url=environment["REDIS_URL"],
        )
    )
    try:
        with TestClient(create_app(runtime)) as client:
            accepted = client.post(
                "/v1/briefs",
                json={**BRIEF_BODY, "mode": "fast", "corrected": {"families": ["citrus"]}},
            )
        assert accepted.status_code == 202, accepted.text
        return uuid.UUID(accepted.json()["job_id"])
    finally:
        runtime.close()
        install_runtime(None)

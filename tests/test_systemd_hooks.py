"""The real `fragrance-ai serve` and `worker` processes under a stand-in for systemd: a bound
NOTIFY_SOCKET and WATCHDOG_USEC in their environment, as a Type=notify unit gives them. The
watchdog is fed by the process's own liveness, so a Redis or database outage is answered by
/ready (503, then 200 once it is back) and never by a missing ping (a restart)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from redis import Redis
from redis.exceptions import RedisError

from tests.helpers import free_port, missing
from tests.notify_socket import NotifySocket

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def _start(args: list[str], environment: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fragrance_ai.cli", *args],
        env=environment,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        # Killed whole if it does not stop: a worker's RQ scheduler is a child process.
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, a normal stop: exit 0, or killed and failed after 60 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
            raise
    assert process.returncode == 0, f"{process.args!r} exited {process.returncode}"


def _environment(tmp_path: Path, listener: NotifySocket, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "NOTIFY_SOCKET": listener.path,
        "WATCHDOG_USEC": "1000000",  # WatchdogSec=1: a ping every 0.5 s
        **extra,
    }


def _pings_throughout(listener: NotifySocket, seconds: float) -> list[list[str]]:
    """Every message for `seconds`, asserting that no gap between pings reached WatchdogSec=1."""
    deadline = time.monotonic() + seconds
    last_ping = time.monotonic()
    seen: list[list[str]] = []
    while time.monotonic() < deadline:
        message = listener.receive()
        seen.append(message)
        if "WATCHDOG=1" in message:
            now = time.monotonic()
            assert now - last_ping < 1.0, f"no ping for {now - last_ping:.2f} s: {seen}"
            last_ping = now
    return seen


class RedisServer:
    """A redis-server of this test's own on `port`, killed and started again at will."""

    def __init__(self, port: int) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing("redis-server is not installed", required_because="Redis outages are tested")
        self.port = port
        self._arguments = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        self._server: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._server = subprocess.Popen(self._arguments, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        with Redis(port=self.port, socket_connect_timeout=1) as connection:
            while True:
                try:
                    connection.ping()
                    return
                except RedisError:
                    assert time.monotonic() < deadline, "redis-server did not start"
                    time.sleep(0.1)

    def kill(self) -> None:
        if self._server is not None:
            self._server.kill()
            self._server.wait(timeout=20)
            self._server = None


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _ready(port: int) -> int:
    return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=10).status_code


def test_the_api_is_ready_once_its_event_loop_serves_and_pings_while_it_answers(
    tmp_path: Path, notify_socket: NotifySocket, redis_url: str
) -> None:
    port = free_port()
    environment = _environment(tmp_path, notify_socket, REDIS_URL=redis_url, API_PORT=str(port))
    api = _start(["serve"], environment, tmp_path / "api.log")
    try:
        seen = notify_socket.receive_until("READY=1", timeout_s=60)
        assert ["STATUS=event loop answers", "READY=1"] in seen
        assert notify_socket.receive() == ["WATCHDOG=1"]
    finally:
        _stop(api)
    assert notify_socket.receive_until("STOPPING=1")


def test_the_api_with_its_database_and_redis_unreachable_is_alive_and_not_ready(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    port = free_port()
    environment = _environment(
        tmp_path,
        notify_socket,
        DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        API_PORT=str(port),
    )
    api = _start(["serve"], environment, tmp_path / "api.log")
    try:
        assert notify_socket.receive_until("READY=1", timeout_s=60)
        _pings_throughout(notify_socket, 2.5)
        assert _ready(port) == 503
        assert api.poll() is None
    finally:
        _stop(api)


def test_a_redis_outage_makes_the_api_answer_503_and_recover_without_a_restart(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    api_port = free_port()
    with redis_server() as server:
        environment = _environment(
            tmp_path,
            notify_socket,
            REDIS_URL=f"redis://127.0.0.1:{server.port}/0",
            API_PORT=str(api_port),
        )
        migrate = _start(["migrate"], environment, tmp_path / "migrate.log")
        assert migrate.wait(timeout=120) == 0
        api = _start(["serve"], environment, tmp_path / "api.log")
        try:
            assert notify_socket.receive_until("READY=1", timeout_s=60)
            assert _ready(api_port) == 200
            server.kill()
            assert _ready(api_port) == 503
            # Longer than WatchdogSec=1 twice over: systemd would have killed a process that
            # fed its watchdog only while Redis answered.
            _pings_throughout(notify_socket, 2.5)
            assert _ready(api_port) == 503
            server.start()
            deadline = time.monotonic() + 30
            while _ready(api_port) != 200:
                assert time.monotonic() < deadline, "/ready did not recover"
                time.sleep(0.2)
            assert api.poll() is None, "the same process serves again"
        finally:
            _stop(api)


def test_a_worker_is_ready_once_registered_and_stays_alive_while_redis_is_down(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    with redis_server() as server:
        environment = _environment(
            tmp_path, notify_socket, REDIS_URL=f"redis://127.0.0.1:{server.port}/0"
        )
        worker = _start(
            ["worker", "rl", "--queue", "rl_training", "--queue", "llm_inference"],
            environment,
            tmp_path / "worker.log",
        )
        try:
            seen = notify_socket.receive_until("READY=1", timeout_s=120)
            assert seen[-1][0].endswith("RQ heartbeat live"), seen
            with Redis(port=server.port) as connection:
                (key,) = [key.decode() for key in connection.scan_iter("rq:worker:rl-*")]
                assert connection.hget(key, "queues") == b"rl_training,llm_inference"
            server.kill()
            # RQ retries Redis in its own loop, which keeps beating: no missed ping.
            _pings_throughout(notify_socket, 3.0)
            assert worker.poll() is None
            server.start()
            assert notify_socket.receive_until("WATCHDOG=1")
        finally:
            _stop(worker)

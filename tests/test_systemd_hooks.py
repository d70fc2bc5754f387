"""The real `fragrance-ai serve` and `worker` processes under a stand-in for systemd: a bound
NOTIFY_SOCKET and WATCHDOG_USEC in their environment, as a Type=notify unit gives them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis

from tests.helpers import free_port
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


def test_the_api_is_ready_when_database_and_redis_answer_and_pings_while_they_do(
    tmp_path: Path, notify_socket: NotifySocket, redis_url: str
) -> None:
    port = free_port()
    environment = _environment(tmp_path, notify_socket, REDIS_URL=redis_url, API_PORT=str(port))
    api = _start(["serve"], environment, tmp_path / "api.log")
    try:
        seen = notify_socket.receive_until("READY=1", timeout_s=60)
        assert ["STATUS=database and queue reachable", "READY=1"] in seen
        assert notify_socket.receive() == ["WATCHDOG=1"]
    finally:
        _stop(api)
    assert notify_socket.receive_until("STOPPING=1")


def test_the_api_is_not_ready_while_redis_is_unreachable(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    environment = _environment(
        tmp_path,
        notify_socket,
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        API_PORT=str(free_port()),
    )
    api = _start(["serve"], environment, tmp_path / "api.log")
    try:
        status = notify_socket.receive()
        assert status[0].startswith("STATUS=queue unreachable"), status
        time.sleep(2)
        assert all("READY=1" not in m and "WATCHDOG=1" not in m for m in notify_socket.pending())
    finally:
        _stop(api)


def test_a_worker_is_ready_once_registered_and_stops_pinging_when_its_heartbeat_is_gone(
    tmp_path: Path, notify_socket: NotifySocket, redis_url: str
) -> None:
    environment = _environment(tmp_path, notify_socket, REDIS_URL=redis_url)
    worker = _start(
        ["worker", "rl", "--queue", "rl_training", "--queue", "llm_inference"],
        environment,
        tmp_path / "worker.log",
    )
    try:
        seen = notify_socket.receive_until("READY=1", timeout_s=120)
        assert seen[-1][0].endswith("RQ heartbeat live"), seen
        assert notify_socket.receive() == ["WATCHDOG=1"]
        # What a hung main loop looks like from Redis: the worker's key expires.
        with Redis.from_url(redis_url) as connection:
            keys = [key.decode() for key in connection.scan_iter("rq:worker:rl-*")]
            assert len(keys) == 1
            assert connection.hget(keys[0], "queues") == b"rl_training,llm_inference"
            connection.delete(keys[0])
        assert notify_socket.receive_until(
            "STATUS=" + keys[0].removeprefix("rq:worker:") + ": no live RQ heartbeat"
        )
        time.sleep(1.5)
        assert all("WATCHDOG=1" not in message for message in notify_socket.pending())
    finally:
        _stop(worker)

"""Restarting an API that took its listening socket from systemd refuses no client: the test
holds the socket as systemd does, passes it to `fragrance-ai serve` by the sd_listen_fds
protocol (fd 3, LISTEN_FDS, LISTEN_PID), and restarts the server twice while threads make
requests without retries. Connections made while no server runs wait in the kernel's queue.

Every request opens a connection of its own: the test is about the listening socket, and an
idle keep-alive connection closed by a stopping server is one a client retries by HTTP's rules,
which this load generator is not allowed to do."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import free_port

STOP_TIMEOUT_S = 30
START_TIMEOUT_S = 60
LOAD_THREADS = 4
PATHS = ("/health", "/v1/formulas?limit=5")

# What systemd does between fork and exec: the socket to fd 3, LISTEN_PID naming the process
# that will run the service (this one, which exec keeps), then the service's command.
_ACTIVATION_SHIM = """
import os, sys
fd = int(sys.argv[1])
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.executable, [sys.executable, "-m", "fragrance_ai.cli", "serve"])
"""


@dataclass
class _Load:
    port: int
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    served: int = 0
    failures: list[str] = field(default_factory=list)

    def run(self, first_path: int) -> None:
        turn = first_path
        while not self.stop.is_set():
            path = PATHS[turn % len(PATHS)]
            turn += 1
            try:
                status = _get(self.port, path)
                failure = None if status == 200 else f"{path}: {status}"
            except OSError as error:  # refused, reset, timed out: no retry, a failure
                failure = f"{path}: {type(error).__name__}: {error}"
            with self.lock:
                if failure is None:
                    self.served += 1
                else:
                    self.failures.append(failure)


def _get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=STOP_TIMEOUT_S)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    """What the .socket unit holds: bound and listening before any server runs."""
    sock = socket.create_server(("127.0.0.1", free_port()), backlog=128)
    try:
        yield sock
    finally:
        sock.close()


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    environment = {
        **os.environ,
        "APP_ENV": "development",
        "DATA_DIR": str(tmp_path),
        # Another port than the socket's: a server that binds its own is not reached.
        "API_PORT": str(free_port()),
        "LOG_LEVEL": "INFO",
    }
    migrated = subprocess.run(
        [sys.executable, "-m", "fragrance_ai.cli", "migrate"],
        env=environment,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    return environment


def _start(sock: socket.socket, environment: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-c", _ACTIVATION_SHIM, str(sock.fileno())],
            pass_fds=(sock.fileno(),),
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _requests_served(log: Path) -> int:
    """Access lines in this generation's log: the requests it answered."""
    return sum('"GET /' in line for line in log.read_text(errors="replace").splitlines())


def _wait_until_serving(process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while _requests_served(log) < LOAD_THREADS:
        assert process.poll() is None, f"serve exited during start-up:\n{log.read_text()}"
        assert time.monotonic() < deadline, (
            f"served nothing in {START_TIMEOUT_S} s:\n{log.read_text()}"
        )
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes], log: Path) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)
        pytest.fail(f"serve did not stop within {STOP_TIMEOUT_S} s:\n{log.read_text()}")


def test_restarting_a_socket_activated_api_under_load_fails_no_request(
    tmp_path: Path, listening_socket: socket.socket, environment: dict[str, str]
) -> None:
    load = _Load(port=listening_socket.getsockname()[1])
    threads = [threading.Thread(target=load.run, args=(i,)) for i in range(LOAD_THREADS)]
    logs = [tmp_path / f"serve-{generation}.log" for generation in range(3)]
    process = _start(listening_socket, environment, logs[0])
    # Started before the first server: their first connections wait in the queue too.
    for thread in threads:
        thread.start()
    try:
        _wait_until_serving(process, logs[0])
        for generation in (1, 2):
            assert _stop(process, logs[generation - 1]) == 0, logs[generation - 1].read_text()
            process = _start(listening_socket, environment, logs[generation])
            _wait_until_serving(process, logs[generation])
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=STOP_TIMEOUT_S * 2)
        if process.poll() is None:
            assert _stop(process, logs[-1]) == 0, logs[-1].read_text()

    served_by = [_requests_served(log) for log in logs]
    # The figure for the closing note (`pytest -s`): requests, per generation, failures.
    print(f"\nrestarts under load: {load.served} requests served by {served_by}, ", end="")
    print(f"{len(load.failures)} failed")
    assert load.failures == []
    assert all(count > 0 for count in served_by), served_by
    assert sum(served_by) == load.served
    for log in logs:
        assert "serving on the socket passed by systemd (fd 3, 127.0.0.1:" in log.read_text()


def test_serve_ignores_a_socket_meant_for_another_process(
    tmp_path: Path, listening_socket: socket.socket, environment: dict[str, str]
) -> None:
    """LISTEN_PID names another process (variables inherited from a parent): serve binds
    host:port as usual and leaves fd 3 alone."""
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "fragrance_ai.cli", "serve"],
            env={**environment, "LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid())},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(OSError):
                if _get(int(environment["API_PORT"]), "/health") == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        assert _stop(process, log) == 0, log.read_text()
    assert "passed by systemd" not in log.read_text()

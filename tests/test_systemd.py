"""sd_notify against a real AF_UNIX datagram socket bound by the test, as systemd binds one."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fragrance_ai.api.app import create_app
from fragrance_ai.platform.systemd import (
    HealthNotifier,
    Heartbeat,
    event_loop_answers,
    notify,
    watchdog_interval_s,
)
from fragrance_ai.runtime import build_runtime, install_runtime
from tests.conftest import make_settings
from tests.helpers import free_port
from tests.notify_socket import NotifySocket


def systemd_env(listener: NotifySocket, **extra: str) -> dict[str, str]:
    return {"NOTIFY_SOCKET": listener.path, **extra}


def test_notify_sends_one_datagram_of_newline_separated_assignments(
    notify_socket: NotifySocket,
) -> None:
    assert notify("READY=1", "STATUS=serving", environ=systemd_env(notify_socket))
    assert notify_socket.receive() == ["READY=1", "STATUS=serving"]


def test_notify_reaches_an_abstract_socket() -> None:
    listener = NotifySocket(f"@fragrance-ai-test-{os.getpid()}-{time.monotonic_ns()}")
    try:
        assert notify("WATCHDOG=1", environ={"NOTIFY_SOCKET": listener.path})
        assert listener.receive() == ["WATCHDOG=1"]
    finally:
        listener.sock.close()


@pytest.mark.parametrize("value", ["", "vsock:2:1234", "relative/path"])
def test_notify_is_inert_without_a_unix_socket_path(value: str) -> None:
    assert not notify("READY=1", environ={"NOTIFY_SOCKET": value})
    assert not notify("READY=1", environ={})


def test_notify_to_a_vanished_socket_fails_quietly(tmp_path: Path) -> None:
    assert not notify("READY=1", environ={"NOTIFY_SOCKET": str(tmp_path / "gone")})


# Without a send timeout the first notify past the full queue would block for good (one
# clean-clone CI run: a worker's STOPPING=1 hung its exit); the timeout marker fails it then.
@pytest.mark.timeout(60)
def test_notify_to_a_reader_that_has_fallen_behind_gives_up_instead_of_blocking(
    notify_socket: NotifySocket,
) -> None:
    environ = systemd_env(notify_socket)
    sent = 0
    while notify("WATCHDOG=1", environ=environ):
        sent += 1
        assert sent < 10_000, "the reader's queue never filled"
    assert sent >= 1
    assert notify_socket.pending()[:1] == [["WATCHDOG=1"]]
    # Read again, the reader gets the next message.
    assert notify("STOPPING=1", environ=environ)
    assert ["STOPPING=1"] in notify_socket.pending()


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())})
    # A child of the main process (uvicorn's workers) may ping under NotifyAccess=all.
    assert watchdog_interval_s({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getppid())})


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"WATCHDOG_USEC": "0"},
        {"WATCHDOG_USEC": "soon"},
        {"WATCHDOG_USEC": "1", "WATCHDOG_PID": "1"},
    ],
)
def test_no_watchdog(environ: dict[str, str]) -> None:
    assert watchdog_interval_s(environ) is None


def test_notifier_is_inert_outside_systemd() -> None:
    notifier = HealthNotifier(lambda: (True, "fine"), environ={}).start()
    assert not notifier.under_systemd
    assert not notifier.ready.wait(0.3)
    notifier.stop()


def test_ready_once_the_check_passes_then_pings_while_it_passes(
    notify_socket: NotifySocket,
) -> None:
    healthy = threading.Event()

    def check() -> tuple[bool, str]:
        return (True, "all good") if healthy.is_set() else (False, "waiting for the database")

    env = systemd_env(notify_socket, WATCHDOG_USEC="200000")  # ping every 0.1 s
    notifier = HealthNotifier(check, environ=env).start()
    try:
        assert notify_socket.receive() == ["STATUS=waiting for the database"]
        time.sleep(0.3)
        assert notify_socket.pending() == [], "no READY and no ping while the check fails"
        healthy.set()
        assert notify_socket.receive_until("READY=1")[-1] == ["STATUS=all good", "READY=1"]
        assert notify_socket.receive() == ["WATCHDOG=1"]
        assert notify_socket.receive() == ["WATCHDOG=1"]
        healthy.clear()
        assert notify_socket.receive_until("STATUS=waiting for the database")
        time.sleep(0.35)
        assert notify_socket.pending() == [], "a failing check stops the pings"
        healthy.set()
        pings = notify_socket.receive_until("WATCHDOG=1")
        assert ["READY=1"] not in pings, "READY is sent once"
    finally:
        notifier.stop()
    assert notify_socket.receive_until("STOPPING=1")


def test_a_check_that_raises_counts_as_failing(notify_socket: NotifySocket) -> None:
    def check() -> tuple[bool, str]:
        raise ConnectionError("refused")

    notifier = HealthNotifier(check, environ=systemd_env(notify_socket)).start()
    try:
        assert notify_socket.receive() == ["STATUS=health check raised ConnectionError: refused"]
        assert not notifier.ready.is_set()
    finally:
        notifier.stop()


def test_without_a_watchdog_the_thread_ends_after_ready(notify_socket: NotifySocket) -> None:
    notifier = HealthNotifier(lambda: (True, "up"), environ=systemd_env(notify_socket)).start()
    assert notify_socket.receive() == ["STATUS=up", "READY=1"]
    assert notifier._thread is not None
    notifier._thread.join(timeout=5)
    assert not notifier._thread.is_alive()
    notifier.stop()
    assert notify_socket.receive() == ["STOPPING=1"]


def test_only_the_main_process_says_stopping(notify_socket: NotifySocket) -> None:
    # uvicorn's worker processes are children: WATCHDOG_PID names their parent.
    env = systemd_env(notify_socket, WATCHDOG_USEC="10000000", WATCHDOG_PID=str(os.getppid()))
    notifier = HealthNotifier(lambda: (True, "up"), environ=env).start()
    assert notify_socket.receive() == ["STATUS=up", "READY=1"]
    notifier.stop()
    time.sleep(0.2)
    assert notify_socket.pending() == []


# ---- liveness: what feeds the watchdog ------------------------------------------------------


@pytest.fixture
def running_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    loop.close()


def test_the_event_loop_check_passes_while_the_loop_answers_and_fails_while_blocked(
    running_loop: asyncio.AbstractEventLoop,
) -> None:
    check = event_loop_answers(running_loop, timeout_s=0.2)
    assert check() == (True, "event loop answers")
    # A callback that never yields holds the loop: what a hung API looks like.
    running_loop.call_soon_threadsafe(time.sleep, 0.6)
    time.sleep(0.05)
    assert check() == (False, "event loop did not answer within 0.2 s")
    time.sleep(0.6)
    assert check()[0]


def test_the_event_loop_check_fails_on_a_closed_loop() -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    assert event_loop_answers(loop, timeout_s=0.1)() == (False, "event loop closed")


def test_a_heartbeat_is_live_until_its_promise_runs_out() -> None:
    heartbeat = Heartbeat()
    assert heartbeat.check() == (False, "no heartbeat yet")
    heartbeat.beat(0.2, "worker-1: RQ heartbeat live")
    assert heartbeat.check() == (True, "worker-1: RQ heartbeat live")
    time.sleep(0.3)
    live, detail = heartbeat.check()
    assert not live
    assert detail.startswith("worker-1: RQ heartbeat live; no heartbeat since")
    heartbeat.beat(60, "worker-1: waiting for Redis")
    assert heartbeat.check() == (True, "worker-1: waiting for Redis")


def _closed(scheme: str) -> str:
    if scheme == "postgresql":
        return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    return f"redis://127.0.0.1:{free_port()}/0"


def test_the_api_feeds_its_watchdog_with_its_dependencies_down_but_not_with_its_loop_blocked(
    tmp_path: Path, notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lifespan's notifier reads the environment a Type=notify unit gives the process.
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.path)
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # a ping every 0.2 s
    runtime = build_runtime(
        make_settings(tmp_path, database_url=_closed("postgresql"), redis_url=_closed("redis"))
    )

    async def hold_the_loop() -> None:
        time.sleep(1.2)  # a coroutine that never yields: the API is hung

    try:
        with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
            ready = notify_socket.receive_until("READY=1")
            assert ["STATUS=event loop answers", "READY=1"] in ready
            assert notify_socket.receive() == ["WATCHDOG=1"]
            # The database and Redis are unreachable: /ready says so, the watchdog is fed.
            answer = client.get("/ready")
            assert answer.status_code == 503
            assert answer.json()["failing"] == ["database", "migrations", "queue"]
            assert client.get("/health").status_code == 200
            assert notify_socket.receive_until("WATCHDOG=1")

            assert client.portal is not None
            blocked = client.portal.start_task_soon(hold_the_loop)
            time.sleep(0.25)  # a ping already on its way may still arrive
            notify_socket.pending()
            time.sleep(0.7)
            during = notify_socket.pending()
            assert all("WATCHDOG=1" not in message for message in during), during
            assert ["STATUS=event loop did not answer within 0.1 s"] in during, during
            blocked.result(timeout=10)
            assert notify_socket.receive_until("WATCHDOG=1")
    finally:
        runtime.close()
        install_runtime(None)

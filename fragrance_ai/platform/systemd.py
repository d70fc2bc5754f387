"""Tell systemd when this process is ready and, while it is alive, that it is (sd_notify(3):
READY=1, WATCHDOG=1, STOPPING=1, STATUS=...).

Under a `Type=notify` unit with `WatchdogSec=`, a process that stops pinging is killed and
restarted by systemd, so a hung process is treated like a dead one. Pings come from a daemon
thread that runs a check of the process's own liveness first: the API's event loop answers
(`event_loop_answers`), a worker's loop keeps beating (`Heartbeat`). Liveness only: a database
or Redis outage is what readiness (/ready) reports, and restarting a healthy process cannot end
one. Everything here is inert outside systemd (no $NOTIFY_SOCKET): no thread, no socket, no
message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

HealthCheck = Callable[[], tuple[bool, str]]
"""Returns (healthy, one line for `systemctl status`)."""

_UNREADY_POLL_S = 1.0
_LOOP_ANSWER_TIMEOUT_S = 5.0
_SEND_TIMEOUT_S = 1.0


def notify(*assignments: str, environ: Mapping[str, str] | None = None) -> bool:
    """Sends `assignments` (e.g. "READY=1") in one datagram; False when not under systemd."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        address = "\0" + address[1:]  # Linux abstract socket namespace
    elif not address.startswith("/"):
        return False  # unset, or a transport we do not speak (vsock)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # A datagram to a reader that has fallen behind blocks once its queue is full (ten
            # datagrams on Linux by default): a process must never hang on telling systemd
            # something, least of all STOPPING=1 on its way out. A message that cannot go in
            # _SEND_TIMEOUT_S is dropped; a watchdog ping so lost is one systemd missed anyway.
            sock.settimeout(_SEND_TIMEOUT_S)
            sock.connect(address)
            sock.sendall("\n".join(assignments).encode())
    except OSError as error:
        log.warning("sd_notify to %s failed: %s", address, error)
        return False
    return True


def watchdog_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """Half of WatchdogSec= (sd_watchdog_enabled(3)'s advice), or None without a watchdog.

    systemd addresses the watchdog to WATCHDOG_PID, its main process. A child of that process
    may ping too (uvicorn's worker processes, with NotifyAccess=all), so the parent's PID counts.
    """
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if usec <= 0 or (pid and pid not in (str(os.getpid()), str(os.getppid()))):
        return None
    return usec / 2_000_000


class HealthNotifier:
    """Runs `check` in a daemon thread: READY=1 the first time it passes, then WATCHDOG=1 every
    half WatchdogSec= while it passes, nothing while it fails; STATUS= when the detail changes.
    """

    def __init__(self, check: HealthCheck, *, environ: Mapping[str, str] | None = None) -> None:
        self._check = check
        self._environ = dict(os.environ if environ is None else environ)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()

    @property
    def under_systemd(self) -> bool:
        return bool(self._environ.get("NOTIFY_SOCKET"))

    def start(self) -> HealthNotifier:
        if self.under_systemd and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sd-notify", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Ends the thread and, from the main process only, tells systemd the stop is deliberate
        (STOPPING=1): a uvicorn worker process that uvicorn recycles is not the service stopping.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            if self._environ.get("WATCHDOG_PID", str(os.getpid())) == str(os.getpid()):
                notify("STOPPING=1", environ=self._environ)

    def _run(self) -> None:
        interval = watchdog_interval_s(self._environ)
        last_detail = ""
        while not self._stop.is_set():
            healthy, detail = self._safe_check()
            messages = [] if detail == last_detail else [f"STATUS={detail}"]
            last_detail = detail
            if healthy and not self.ready.is_set():
                messages.append("READY=1")
            elif healthy and interval is not None:
                messages.append("WATCHDOG=1")
            if messages:
                notify(*messages, environ=self._environ)
            if healthy:
                self.ready.set()
                if interval is None:
                    return  # ready, and no watchdog to keep fed
            # A failing check is retried every second, so a blip shorter than about half of
            # WatchdogSec= costs no restart; one that lasts longer does.
            wait = interval if healthy and interval is not None else _UNREADY_POLL_S
            self._stop.wait(min(wait, interval) if interval is not None else wait)

    def _safe_check(self) -> tuple[bool, str]:
        try:
            return self._check()
        except Exception as error:  # a check that raises is a failing check, not a dead thread
            return False, f"health check raised {type(error).__name__}: {error}"


def event_loop_answers(
    loop: asyncio.AbstractEventLoop, *, timeout_s: float | None = None
) -> HealthCheck:
    """A check that the event loop runs callbacks: it schedules one from the checking thread
    and waits up to `timeout_s` (by default 5 s, or half the watchdog's interval when that is
    shorter) for it. A loop blocked by a callback or a coroutine that never yields (the API
    hung) fails it; a slow database does not, as requests wait on it without holding the loop.
    """
    if timeout_s is None:
        timeout_s = min(_LOOP_ANSWER_TIMEOUT_S, (watchdog_interval_s() or 10.0) / 2)

    def check() -> tuple[bool, str]:
        answered = threading.Event()
        try:
            loop.call_soon_threadsafe(answered.set)
        except RuntimeError:  # the loop is closed
            return False, "event loop closed"
        if answered.wait(timeout_s):
            return True, "event loop answers"
        return False, f"event loop did not answer within {timeout_s:g} s"

    return check


class Heartbeat:
    """A loop's own sign of life: each beat promises the next within `ttl_s`; the check passes
    until that promise is broken. Beats come from the loop itself, so a loop that waits for
    Redis (and says so) still beats, and a loop that hangs stops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deadline: float | None = None
        self._detail = "no heartbeat yet"

    def beat(self, ttl_s: float, detail: str) -> None:
        with self._lock:
            self._deadline = time.monotonic() + ttl_s
            self._detail = detail

    def check(self) -> tuple[bool, str]:
        with self._lock:
            deadline, detail = self._deadline, self._detail
        if deadline is None:
            return False, detail
        late_s = time.monotonic() - deadline
        if late_s > 0:
            return False, f"{detail}; no heartbeat since, {late_s:.0f} s past its promise"
        return True, detail

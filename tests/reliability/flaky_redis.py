"""A private redis-server behind a TCP proxy of the test's own: the process under test talks to
the proxy, and the test can kill Redis (its connections break, new ones are cut at once), bring
it back empty, or hold every request that carries a given marker until it lets go (a Redis slow
to answer that one request), to catch a process in a chosen state."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import threading
import time

from redis import Redis
from redis.exceptions import RedisError

from tests.helpers import free_port


class FlakyRedis:
    def __init__(self) -> None:
        self._redis_port = free_port()
        self._server: subprocess.Popen[bytes] | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._marker: bytes | None = None
        self._released = threading.Event()
        self.held = threading.Event()
        self.revive()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, name="flaky-redis", daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def connection(self) -> Redis:
        """A connection of the test's own, straight to Redis, never held."""
        return Redis(port=self._redis_port, socket_connect_timeout=2, socket_timeout=5)

    def kill(self) -> None:
        server, self._server = self._server, None
        assert server is not None
        server.kill()
        assert server.wait(timeout=20) == -signal.SIGKILL

    def revive(self) -> None:
        """Starts redis-server (again, empty) on its port, and waits until it answers."""
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        arguments = ["--port", str(self._redis_port), "--bind", "127.0.0.1", "--save", ""]
        self._server = subprocess.Popen(
            [binary, *arguments, "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        with self.connection() as probe:
            while True:
                try:
                    probe.ping()
                    return
                except RedisError:
                    assert time.monotonic() < deadline, "private redis-server does not answer"
                    time.sleep(0.02)

    def hold(self, marker: bytes) -> None:
        """From now on a request carrying `marker` waits until `release()`; `held` is set once
        one does."""
        self._released.clear()
        self.held.clear()
        self._marker = marker

    def release(self) -> None:
        self._marker = None
        self._released.set()

    def close(self) -> None:
        self.release()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                _cut(sock)
        if self._server is not None:
            self._server.terminate()
            self._server.wait(timeout=20)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self._redis_port), timeout=2)
            except OSError:
                _cut(client)  # Redis is gone: the connection is cut at once
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for source, target, watch in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(
                    target=self._pump, args=(source, target, watch), daemon=True
                ).start()

    def _pump(self, source: socket.socket, target: socket.socket, watch: bool) -> None:
        tail = b""
        try:
            while data := source.recv(65536):
                marker = self._marker
                if watch and marker is not None and marker in tail + data:
                    self.held.set()
                    self._released.wait()
                tail = data[-64:]
                target.sendall(data)
        except OSError:
            pass
        finally:
            _cut(source)
            _cut(target)


def _cut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()

"""A stand-in for systemd's side of NOTIFY_SOCKET: a real AF_UNIX datagram socket."""

from __future__ import annotations

import socket
import time


class NotifySocket:
    """What systemd does for NOTIFY_SOCKET: bind a datagram socket and read messages."""

    def __init__(self, path: str) -> None:
        self.path = path
        bind_to = "\0" + path[1:] if path.startswith("@") else path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(bind_to)
        self.sock.settimeout(10)

    def receive(self) -> list[str]:
        return self.sock.recv(4096).decode().split("\n")

    def receive_until(self, assignment: str, *, timeout_s: float = 10) -> list[list[str]]:
        """All messages up to and including the first that carries `assignment`."""
        seen: list[list[str]] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = self.receive()
            seen.append(message)
            if assignment in message:
                return seen
        raise AssertionError(f"no {assignment} within {timeout_s} s; got {seen}")

    def pending(self) -> list[list[str]]:
        self.sock.setblocking(False)
        messages = []
        try:
            while True:
                messages.append(self.sock.recv(4096).decode().split("\n"))
        except BlockingIOError:
            return messages
        finally:
            self.sock.setblocking(True)
            self.sock.settimeout(10)

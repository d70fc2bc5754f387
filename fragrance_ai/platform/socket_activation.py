"""Serving on a listening socket that systemd passed (socket activation, sd_listen_fds(3)).

systemd holds the socket and the kernel queues connections on it while the API restarts (a
`nixos-rebuild switch`, an upgrade), so a restart refuses no client: they wait for the next
process instead. Without a passed socket, `serve` binds host:port itself."""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from fragrance_ai.settings import ConfigError

log = logging.getLogger(__name__)

# sd_listen_fds(3): passed sockets start at this descriptor.
SD_LISTEN_FDS_START = 3


def inherited_listening_socket() -> socket.socket | None:
    """The first socket passed to this process, or None when none was. The variables are
    removed once read, as sd_listen_fds does, so no child process takes them for its own."""
    listen_pid = os.environ.pop("LISTEN_PID", "")
    listen_fds = os.environ.pop("LISTEN_FDS", "")
    os.environ.pop("LISTEN_FDNAMES", None)
    # LISTEN_PID names the process the sockets are for: variables inherited by anything else
    # (a shell started from the service) are not an invitation.
    if not (listen_pid.isdigit() and int(listen_pid) == os.getpid()):
        return None
    if not listen_fds.isdigit() or int(listen_fds) < 1:
        return None
    if int(listen_fds) > 1:
        log.warning("systemd passed %s sockets; serving on the first only", listen_fds)
    try:
        sock = socket.socket(fileno=SD_LISTEN_FDS_START)  # family and type read from the fd
    except OSError as error:
        raise ConfigError(
            f"LISTEN_FDS: fd {SD_LISTEN_FDS_START} is not a socket: {error}"
        ) from None
    if sock.type != socket.SOCK_STREAM or not sock.getsockopt(
        socket.SOL_SOCKET, socket.SO_ACCEPTCONN
    ):
        raise ConfigError(
            f"LISTEN_FDS: fd {SD_LISTEN_FDS_START} is not a listening stream socket "
            "(the .socket unit needs ListenStream= and Accept=no)"
        )
    # As sd_listen_fds leaves them: not inherited by processes this one starts.
    sock.set_inheritable(False)
    return sock


def serve_on(config: uvicorn.Config, sock: socket.socket) -> bool:
    """Runs uvicorn on `sock` until it shuts down; False when the app failed to start."""
    log.info("serving on the socket passed by systemd (fd %d, %s)", sock.fileno(), _name(sock))
    if config.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
        return True
    server = _HandOverServer(config)
    server.run(sockets=[sock])
    return server.started


class _HandOverServer(uvicorn.Server):
    """uvicorn's shutdown closes every connection that has not sent its request yet. Here
    those are connections just taken from the shared queue, whose clients have sent a request
    that the next process would have answered: they would see a reset. So: stop accepting,
    let those be read (their request then finishes as usual), and only then shut down."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _FIRST_REQUEST_WAIT_S
        while loop.time() < deadline and any(
            getattr(connection, "cycle", True) is None
            for connection in self.server_state.connections
        ):
            await asyncio.sleep(0.005)
        await super().shutdown(sockets)


# A client that connects and sends nothing holds a stopping server this long at most.
_FIRST_REQUEST_WAIT_S = 1.0


def _name(sock: socket.socket) -> str:
    address = sock.getsockname()
    if isinstance(address, tuple):
        return f"{address[0]}:{address[1]}"
    return str(address)

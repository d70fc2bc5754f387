"""`fragrance-ai serve`: the HTTP API under uvicorn, on its own socket or on one systemd
hands over (socket activation)."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
from types import FrameType
from typing import Any

from fragrance_ai.settings import Settings

log = logging.getLogger("fragrance_ai")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_bind_options(parser)
    parser.add_argument("--workers", type=int, help="uvicorn worker processes (API_WORKERS)")


def add_bind_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (API_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (API_PORT)")


def host(settings: Settings, args: argparse.Namespace) -> str:
    return str(args.host or settings.api_host)


def port(settings: Settings, args: argparse.Namespace) -> int:
    return int(args.port if args.port is not None else settings.api_port)


def run(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from fragrance_ai.db.schema_guard import refuse_unknown_schema_at_start
    from fragrance_ai.platform.socket_activation import inherited_listening_socket, serve_on

    refuse_unknown_schema_at_start(settings)
    workers = args.workers or settings.api_workers
    if workers > 1:
        _prepare_multiprocess_metrics(settings)
    # SIGTERM: uvicorn stops accepting, lets the requests in flight finish (at most
    # api_shutdown_timeout_s), runs the app's shutdown, then raises SIGTERM again; caught
    # here, so a service manager's normal stop is exit 0, not death by the signal.
    options: dict[str, Any] = {
        "app": "fragrance_ai.api.app:create_app",
        "factory": True,
        "host": host(settings, args),
        "port": port(settings, args),
        "workers": workers,
        "log_level": settings.log_level.lower(),
        "log_config": None,  # its lines go through our handler (fragrance_ai.platform.logs)
        "timeout_graceful_shutdown": settings.api_shutdown_timeout_s,
    }
    # Under systemd socket activation the socket outlives this process: connections made
    # while it restarts wait in the kernel's queue for the next one.
    inherited = inherited_listening_socket()
    started = True
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        if inherited is None:
            uvicorn.run(**options)
        else:
            started = serve_on(uvicorn.Config(**options), inherited)
    except Terminated:
        log.info("stopped by SIGTERM")
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0 if started else 3  # uvicorn's exit code for an app that failed to start


def _prepare_multiprocess_metrics(settings: Settings) -> None:
    # Each uvicorn worker writes its samples here and /metrics sums them; stale files from
    # an earlier run would be summed too, hence the wipe.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(
        (settings.data_dir / "prometheus-multiproc").resolve()
    )
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory


class Terminated(Exception):
    """SIGTERM reached `dev` or `serve` after uvicorn's graceful shutdown: exit 0."""


def raise_terminated(_signum: int, _frame: FrameType | None) -> None:
    raise Terminated

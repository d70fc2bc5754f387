"""The `fragrance-ai` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

from fragrance_ai.cli.db import add_arguments as add_db_arguments
from fragrance_ai.cli.db import run as run_db
from fragrance_ai.cli.keys import add_arguments as add_keys_arguments
from fragrance_ai.cli.keys import run as run_keys
from fragrance_ai.cli.train import add_arguments as add_train_arguments
from fragrance_ai.cli.train import run as run_train
from fragrance_ai.db.schema_too_new import SchemaTooNew
from fragrance_ai.platform.logs import configure_logging
from fragrance_ai.settings import ConfigError, Settings, load_settings, mask_url, public_view

log = logging.getLogger("fragrance_ai")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings)
        result: int = args.handler(settings, args)
        return result
    except ConfigError as error:
        print(f"fragrance-ai: configuration error: {error}", file=sys.stderr)
        return 2
    except SchemaTooNew as error:
        print(f"fragrance-ai: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fragrance-ai", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API")
    _add_bind_options(serve)
    serve.add_argument("--workers", type=int, help="uvicorn worker processes (API_WORKERS)")
    serve.set_defaults(handler=_serve)

    dev = commands.add_parser(
        "dev", help="migrate, then run the API and both workers in one command"
    )
    _add_bind_options(dev)
    dev.set_defaults(handler=_dev)

    worker = commands.add_parser("worker", help="run an RQ worker")
    worker.add_argument("kind", choices=["llm", "rl"], help="llm: llm_inference, rl: rl_training")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.add_argument(
        "--queue",
        action="append",
        default=[],
        choices=["llm_inference", "rl_training"],
        help="work this queue instead of the kind's own; repeat for several",
    )
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(handler=_migrate)

    health = commands.add_parser(
        "healthcheck", help="exit 0 when the API or a worker on this host is healthy"
    )
    health.add_argument("component", choices=["api", "worker"])
    health.add_argument("kind", nargs="?", choices=["llm", "rl"], help="the worker's kind")
    health.add_argument("--url", help="the API's /health URL (default from API_HOST/API_PORT)")
    health.set_defaults(handler=_healthcheck)

    smoke = commands.add_parser("smoke", help="check a part of the installation for real")
    smoke.add_argument("part", choices=["llm"], help="llm: load the models, read two briefs")
    smoke.set_defaults(handler=_smoke)

    train = commands.add_parser(
        "train", help="run one training run here (reward model, PPO), with progress"
    )
    add_train_arguments(train)
    train.set_defaults(handler=run_train)

    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    add_keys_arguments(keys)
    keys.set_defaults(handler=run_keys)

    database = commands.add_parser("db", help="back up the database, or restore a backup")
    add_db_arguments(database)
    database.set_defaults(handler=run_db)

    config = commands.add_parser("config", help="inspect the configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    show = config_commands.add_parser("show", help="print the effective config, secrets masked")
    show.set_defaults(handler=_config_show)
    return parser


def _smoke(settings: Settings, args: argparse.Namespace) -> int:
    from fragrance_ai.cli.smoke import smoke_llm

    return smoke_llm(settings)


def _add_bind_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (API_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (API_PORT)")


def _host(settings: Settings, args: argparse.Namespace) -> str:
    return str(args.host or settings.api_host)


def _port(settings: Settings, args: argparse.Namespace) -> int:
    return int(args.port if args.port is not None else settings.api_port)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
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
        "host": _host(settings, args),
        "port": _port(settings, args),
        "workers": workers,
        "log_level": settings.log_level.lower(),
        "log_config": None,  # its lines go through our handler (fragrance_ai.platform.logs)
        "timeout_graceful_shutdown": settings.api_shutdown_timeout_s,
    }
    # Under systemd socket activation the socket outlives this process: connections made
    # while it restarts wait in the kernel's queue for the next one.
    inherited = inherited_listening_socket()
    started = True
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        if inherited is None:
            uvicorn.run(**options)
        else:
            started = serve_on(uvicorn.Config(**options), inherited)
    except _Terminated:
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


def _dev(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from fragrance_ai.api.app import create_app
    from fragrance_ai.db.migrate import upgrade_to_head
    from fragrance_ai.db.schema_guard import refuse_unknown_schema
    from fragrance_ai.jobs.submit import resume_unfinished_jobs
    from fragrance_ai.runtime import build_runtime, install_runtime

    queue_backend = (
        f"RQ on Redis at {mask_url(settings.redis_url)}"
        if settings.redis_url
        else "in-process worker threads"
    )
    log.info(
        "profile %s; database: %s; queue: %s",
        settings.app_env.value,
        mask_url(settings.effective_database_url),
        queue_backend,
    )
    runtime = build_runtime(settings)
    # Jobs resumed below run on worker threads before the app starts; they must find this
    # runtime, not build a second one.
    install_runtime(runtime)
    refuse_unknown_schema(runtime.engine, mask_url(settings.effective_database_url))
    upgrade_to_head(runtime.engine)
    children: list[subprocess.Popen[bytes]] = []
    if settings.redis_url:
        for kind in ("llm", "rl"):
            command = [sys.executable, "-m", "fragrance_ai.cli", "worker", kind]
            # A session of their own, so a Ctrl-C in the terminal reaches only this process,
            # which then asks each worker once for a warm shutdown: a second signal would
            # make RQ abandon the running job.
            children.append(subprocess.Popen(command, start_new_session=True))
    else:
        resumed = resume_unfinished_jobs(runtime)
        if resumed:
            log.info("re-enqueued %d unfinished jobs from the database", resumed)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler
    # that was there before it: with the default one the process died there, before the
    # workers were stopped. This handler turns that second SIGTERM into a normal return.
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        uvicorn.run(
            create_app(runtime),
            host=_host(settings, args),
            port=_port(settings, args),
            log_level=settings.log_level.lower(),
            log_config=None,  # its lines go through our handler (fragrance_ai.platform.logs)
        )
    except _Terminated:
        log.info("stopped by SIGTERM")
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_warmly(children)
        runtime.close()
    return 0


class _Terminated(Exception):
    """SIGTERM reached `dev` or `serve` after uvicorn's graceful shutdown: exit 0."""


def _raise_terminated(_signum: int, _frame: FrameType | None) -> None:
    raise _Terminated


def _stop_warmly(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        child.terminate()
    try:
        for child in children:
            child.wait()
    except KeyboardInterrupt:
        log.warning("stopping the workers now; their running jobs will be retried")
        for child in children:
            child.kill()


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from fragrance_ai.db.schema_guard import refuse_unknown_schema_at_start
    from fragrance_ai.queue import QueueName
    from fragrance_ai.worker.main import WorkerKind, run_worker

    refuse_unknown_schema_at_start(settings)
    queues = [QueueName(name) for name in args.queue]
    run_worker(settings, WorkerKind(args.kind), burst=args.burst, queues=queues)
    return 0


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from fragrance_ai.db.engine import create_database_engine
    from fragrance_ai.db.migrate import upgrade_to_head
    from fragrance_ai.db.schema_guard import refuse_unknown_schema

    engine = create_database_engine(settings.effective_database_url)
    try:
        refuse_unknown_schema(engine, mask_url(settings.effective_database_url))
        revision = upgrade_to_head(engine)
    finally:
        engine.dispose()
    print(f"database {mask_url(settings.effective_database_url)} is at revision {revision}")
    return 0


def _healthcheck(settings: Settings, args: argparse.Namespace) -> int:
    from fragrance_ai.cli.healthcheck import api_is_healthy, default_api_url, worker_is_healthy
    from fragrance_ai.worker.main import WorkerKind

    if args.component == "api":
        healthy, detail = api_is_healthy(args.url or default_api_url(settings))
    elif args.kind is None:
        print("fragrance-ai: healthcheck worker needs a kind: llm or rl", file=sys.stderr)
        return 2
    else:
        healthy, detail = worker_is_healthy(settings, WorkerKind(args.kind))
    print(("healthy: " if healthy else "unhealthy: ") + detail)
    return 0 if healthy else 1


def _config_show(settings: Settings, _args: argparse.Namespace) -> int:
    print(json.dumps(public_view(settings), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

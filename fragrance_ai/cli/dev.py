"""`fragrance-ai dev`: migrate, then the API and both workers in one command: worker
threads in this process on a bare machine, or two RQ worker processes when REDIS_URL is set."""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys

from fragrance_ai.cli.serve import Terminated, add_bind_options, host, port, raise_terminated
from fragrance_ai.settings import Settings, mask_url

log = logging.getLogger("fragrance_ai")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_bind_options(parser)


def run(settings: Settings, args: argparse.Namespace) -> int:
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
        # The worker threads' models load while the API starts: no brief waits for them.
        runtime.start_loading_models()
        resumed = resume_unfinished_jobs(runtime)
        if resumed:
            log.info("re-enqueued %d unfinished jobs from the database", resumed)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler
    # that was there before it: with the default one the process died there, before the
    # workers were stopped. This handler turns that second SIGTERM into a normal return.
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        uvicorn.run(
            create_app(runtime),
            host=host(settings, args),
            port=port(settings, args),
            log_level=settings.log_level.lower(),
            log_config=None,  # its lines go through our handler (fragrance_ai.platform.logs)
        )
    except Terminated:
        log.info("stopped by SIGTERM")
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_warmly(children)
        runtime.close()
    return 0


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

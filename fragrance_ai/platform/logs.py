"""One log format for every process: readable lines in development, one JSON object a line in
staging and production (what a log collector parses), each line carrying the id of the request
or job it was logged for."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from fragrance_ai.settings import AppEnv, LogFormat, Settings

# Set by the request-id middleware for the request's task, and around each job step; the
# filter below copies them onto every record, whichever library logged it.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
JOB_ID: ContextVar[str | None] = ContextVar("job_id", default=None)

_CONTEXT_FIELDS = ("request_id", "job_id")

# Libraries that speak at INFO about things that are theirs, not ours (alembic lists the
# plugins it sets up on import, httpx every request it makes): heard from at WARNING only.
_CHATTY_AT_INFO = ("alembic.runtime.plugins", "httpx")
# What alembic says each time it opens a migration context, which /ready and the schema
# check do on every call; the lines of a real upgrade (same logger) are kept.
_ALEMBIC_PREAMBLE = ("Context impl ", "Will assume ")

_CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s%(context)s"


@contextmanager
def job_context(job_id: str) -> Iterator[None]:
    """Every line logged inside carries `job_id`."""
    token = JOB_ID.set(job_id)
    try:
        yield
    finally:
        JOB_ID.reset(token)


def log_format_of(settings: Settings) -> LogFormat:
    if settings.log_format is not None:
        return settings.log_format
    return "console" if settings.app_env is AppEnv.DEVELOPMENT else "json"


def configure_logging(settings: Settings) -> None:
    """Idempotent: the CLI configures logging, then uvicorn's app factory again."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(
        JsonFormatter() if log_format_of(settings) == "json" else logging.Formatter(_CONSOLE_FORMAT)
    )
    level = logging.getLevelName(settings.log_level)
    # DEBUG is for our own code: libraries' debug lines (SQL, selectors, migrations' internals)
    # would bury ours, so the root logger, which they inherit from, stops at INFO.
    logging.basicConfig(handlers=[handler], level=max(level, logging.INFO), force=True)
    logging.getLogger("fragrance_ai").setLevel(level)
    for name in _CHATTY_AT_INFO:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    migration = logging.getLogger("alembic.runtime.migration")
    for existing in [f for f in migration.filters if isinstance(f, _AlembicPreamble)]:
        migration.removeFilter(existing)
    if level > logging.DEBUG:
        migration.addFilter(_AlembicPreamble())
    # uvicorn is started with log_config=None: its loggers (uvicorn.error, uvicorn.access)
    # keep no handler of their own and reach this one, at the level it is given.


class _AlembicPreamble(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_ALEMBIC_PREAMBLE)


class ContextFilter(logging.Filter):
    """Copies the request and job ids of the current context onto the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id, job_id = REQUEST_ID.get(), JOB_ID.get()
        record.request_id = request_id
        record.job_id = job_id
        # For the console format: " [request abc-123]", " [job 1b2c...]" or nothing.
        named = [f"request {request_id}" if request_id else "", f"job {job_id}" if job_id else ""]
        present = ", ".join(text for text in named if text)
        record.context = f" [{present}]" if present else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)

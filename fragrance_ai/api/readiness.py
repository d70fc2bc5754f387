"""What the API depends on, checked one by one, for /ready. Not for systemd's watchdog, which
checks the process's own liveness (fragrance_ai/platform/systemd.py): a database or Redis
outage makes /ready answer 503 until they are back, and never gets the API restarted."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from fragrance_ai.db.migrate import is_up_to_date
from fragrance_ai.queue.base import QueueUnavailable
from fragrance_ai.runtime import Runtime

OK = "ok"


def dependency_checks(runtime: Runtime, *, migrations: bool) -> dict[str, str]:
    """Each dependency's state, "ok" or what is wrong with it."""
    checks: dict[str, str] = {}
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = OK
        if migrations:
            checks["migrations"] = OK if is_up_to_date(runtime.engine) else "pending"
    except SQLAlchemyError as error:
        checks["database"] = f"unreachable: {type(error).__name__}"
        if migrations:
            checks["migrations"] = "unknown"
    try:
        runtime.queue.ping()
        checks["queue"] = OK
    except QueueUnavailable as error:
        checks["queue"] = f"unreachable: {error}"
    return checks


def failing(checks: dict[str, str]) -> list[str]:
    return sorted(name for name, state in checks.items() if state != OK)

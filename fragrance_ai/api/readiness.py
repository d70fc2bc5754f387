"""What the API depends on, checked one by one: for /ready and for systemd's watchdog."""

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


def dependencies_reachable(runtime: Runtime) -> tuple[bool, str]:
    """For the watchdog: reachable is enough; a pending migration is /ready's business, and
    must not get a running API restarted."""
    checks = dependency_checks(runtime, migrations=False)
    problems = failing(checks)
    if problems:
        return False, "; ".join(f"{name} {checks[name]}" for name in problems)
    return True, "database and queue reachable"

"""Shared fixtures. Integration tests talk to the real PostgreSQL and Redis on this machine
(TEST_POSTGRES_URL, TEST_REDIS_URL); they skip when those are absent, except in CI (CI=true),
where a missing server is a failure."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from fragrance_ai.api.app import create_app
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.runtime import Runtime, build_runtime, install_runtime
from fragrance_ai.settings import QueueSettings, Settings
from tests.helpers import missing
from tests.notify_socket import NotifySocket

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# A database number of its own, so flushing it never touches anything else on the server.
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def _unavailable(what: str, error: Exception) -> NoReturn:
    missing(
        f"{what} is not reachable: {error}", required_because="integration servers are required"
    )


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own DATABASE_URL or REDIS_URL must never leak into a test.
    for name in ("DATABASE_URL", "REDIS_URL", "APP_ENV", "DATA_DIR", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(name, raising=False)


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "queue": QueueSettings(retry_intervals_s=[]),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database, dropped afterwards."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"fragrance_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        _unavailable("PostgreSQL", error)
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    connection = Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        connection.flushdb()
    except RedisError as error:
        _unavailable("Redis", error)
    try:
        yield REDIS_TEST_URL
    finally:
        connection.flushdb()
        connection.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    """A datagram socket where a process under test sends its sd_notify messages."""
    listener = NotifySocket(str(tmp_path / "notify"))
    try:
        yield listener
    finally:
        listener.sock.close()


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    """The embedded default, migrated: SQLite under tmp_path and the in-process queue."""
    runtime = build_runtime(make_settings(tmp_path))
    upgrade_to_head(runtime.engine)
    yield runtime
    runtime.close()
    install_runtime(None)


@pytest.fixture
def services_runtime(tmp_path: Path, postgres_url: str, redis_url: str) -> Iterator[Runtime]:
    """PostgreSQL and RQ on Redis, migrated, and the process's runtime (jobs run here find it)."""
    runtime = build_runtime(make_settings(tmp_path, database_url=postgres_url, redis_url=redis_url))
    upgrade_to_head(runtime.engine)
    install_runtime(runtime)
    yield runtime
    install_runtime(None)
    runtime.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client

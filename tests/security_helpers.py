"""Shared by the security tests: an app on a migrated runtime, and API keys in its database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from fragrance_ai.api.app import create_app
from fragrance_ai.db.api_keys import create_key
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.runtime import Runtime, build_runtime, install_runtime
from fragrance_ai.security.keys import Scope
from tests.conftest import make_settings


@contextmanager
def running(data_dir: Path, **overrides: object) -> Iterator[Runtime]:
    runtime = build_runtime(make_settings(data_dir, **overrides))
    upgrade_to_head(runtime.engine)
    try:
        yield runtime
    finally:
        runtime.close()
        install_runtime(None)


@contextmanager
def served(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


def new_key(runtime: Runtime, *scopes: Scope, name: str = "test") -> str:
    with runtime.sessions() as session:
        return create_key(session, name, list(scopes)).token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

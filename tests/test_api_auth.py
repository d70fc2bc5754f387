"""API keys over the real app: who may call, with which scope, and what it costs per request."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from fragrance_ai.api.app import create_app
from fragrance_ai.db.api_keys import revoke_key
from fragrance_ai.db.models import ApiKey
from fragrance_ai.runtime import Runtime
from fragrance_ai.security.keys import Scope
from fragrance_ai.settings import SecuritySettings
from tests.helpers import free_port, wait_until_answering
from tests.security_helpers import bearer, new_key, running, served

REQUIRED = SecuritySettings(require_api_keys=True)
VOCABULARY = "/v1/briefs/vocabulary"


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[Runtime]:
    with running(tmp_path, security=REQUIRED) as runtime:
        yield runtime


@pytest.fixture
def keyed_client(keyed: Runtime) -> Iterator[TestClient]:
    with served(keyed) as client:
        yield client


def test_without_a_key_a_v1_request_gets_401_with_a_bearer_challenge(
    keyed_client: TestClient,
) -> None:
    for method, path in (("GET", VOCABULARY), ("POST", "/v1/briefs"), ("GET", "/v1/nowhere")):
        response = keyed_client.request(method, path, json={"text": "citrus"})
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="fragrance-ai"'
        assert "API key is required" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer fai_000000000000_" + "A" * 43},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "not-a-key"},
    ],
)
@pytest.mark.parametrize("required", [True, False])
def test_a_bad_key_gets_401_even_where_keys_are_optional(
    tmp_path: Path, headers: dict[str, str], required: bool
) -> None:
    security = SecuritySettings(require_api_keys=required)
    with running(tmp_path, security=security) as runtime, served(runtime) as client:
        response = client.get(VOCABULARY, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].endswith('error="invalid_token"')


def test_a_key_whose_secret_is_wrong_gets_401(keyed: Runtime, keyed_client: TestClient) -> None:
    token = new_key(keyed, Scope.ADMIN)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert keyed_client.get(VOCABULARY, headers=bearer(forged)).status_code == 401
    assert keyed_client.get(VOCABULARY, headers=bearer(token)).status_code == 200


def test_keys_are_optional_in_development_by_default(client: TestClient) -> None:
    assert client.get(VOCABULARY).status_code == 200
    assert client.post("/v1/briefs", json={"text": "fresh citrus cologne"}).status_code == 202


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics", "/", "/static/js/api.js"])
def test_operations_and_the_workbench_need_no_key(keyed_client: TestClient, path: str) -> None:
    assert keyed_client.get(path).status_code == 200


def test_a_read_key_reads_but_may_not_write_and_the_403_names_the_scope(
    keyed: Runtime, keyed_client: TestClient
) -> None:
    reader = bearer(new_key(keyed, Scope.READ))
    assert keyed_client.get(VOCABULARY, headers=reader).status_code == 200
    refused = keyed_client.post("/v1/briefs", json={"text": "citrus"}, headers=reader)
    assert refused.status_code == 403
    assert "lacks the `write` scope" in refused.json()["detail"]
    assert "POST /v1/briefs" in refused.json()["detail"]
    writer = bearer(new_key(keyed, Scope.WRITE))
    assert keyed_client.get(VOCABULARY, headers=writer).status_code == 403
    created = keyed_client.post("/v1/briefs", json={"text": "fresh citrus"}, headers=writer)
    assert created.status_code == 202, created.text


def test_x_api_key_is_accepted_too(keyed: Runtime, keyed_client: TestClient) -> None:
    token = new_key(keyed, Scope.READ)
    assert keyed_client.get(VOCABULARY, headers={"X-API-Key": token}).status_code == 200


@pytest.mark.integration
def test_only_a_key_with_train_starts_training_and_switches_policies(
    tmp_path: Path, redis_url: str
) -> None:
    # RQ on Redis with no worker: the run is queued and stays so, nothing trains here.
    with running(tmp_path, security=REQUIRED, redis_url=redis_url) as runtime:
        writer = bearer(new_key(runtime, Scope.READ, Scope.WRITE))
        trainer = bearer(new_key(runtime, Scope.TRAIN))
        admin = bearer(new_key(runtime, Scope.ADMIN))
        with served(runtime) as client:
            refused = client.post("/v1/training-runs", json={"seed": 1}, headers=writer)
            assert refused.status_code == 403
            assert "lacks the `train` scope" in refused.json()["detail"]
            assert client.post("/v1/policies/deactivate", headers=writer).status_code == 403
            started = client.post("/v1/training-runs", json={"seed": 1}, headers=trainer)
            assert started.status_code == 202, started.text
            assert client.post("/v1/policies/deactivate", headers=trainer).status_code == 200
            # Reading the runs is `read`, which a train-only key lacks; admin has everything.
            assert client.get("/v1/training-runs", headers=trainer).status_code == 403
            assert client.get("/v1/training-runs", headers=admin).status_code == 200
            assert client.post("/v1/policies/deactivate", headers=admin).status_code == 200


def test_a_revoked_key_gets_401(tmp_path: Path) -> None:
    security = SecuritySettings(require_api_keys=True, key_cache_ttl_s=0)
    with running(tmp_path, security=security) as runtime, served(runtime) as client:
        token = new_key(runtime, Scope.READ)
        assert client.get(VOCABULARY, headers=bearer(token)).status_code == 200
        with runtime.sessions() as session:
            revoke_key(session, session.scalars(select(ApiKey.id)).one())
        response = client.get(VOCABULARY, headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].endswith('error="invalid_token"')


def test_a_verified_key_costs_no_database_query_until_its_cache_entry_expires(
    keyed: Runtime, keyed_client: TestClient
) -> None:
    token = new_key(keyed, Scope.READ)
    statements: list[str] = []

    def note(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(keyed.engine, "before_cursor_execute", note)
    try:
        for _ in range(20):
            assert keyed_client.get(VOCABULARY, headers=bearer(token)).status_code == 200
    finally:
        event.remove(keyed.engine, "before_cursor_execute", note)
    key_lookups = [sql for sql in statements if "FROM api_keys" in sql]
    assert len(key_lookups) == 1, statements


def test_last_used_is_written_at_most_once_a_minute(tmp_path: Path) -> None:
    security = SecuritySettings(require_api_keys=True, key_cache_ttl_s=0)
    with running(tmp_path, security=security) as runtime, served(runtime) as client:
        token = new_key(runtime, Scope.READ)
        assert client.get(VOCABULARY, headers=bearer(token)).status_code == 200
        with runtime.sessions() as session:
            first = session.scalars(select(ApiKey.last_used_at)).one()
        assert first is not None
        assert client.get(VOCABULARY, headers=bearer(token)).status_code == 200
        with runtime.sessions() as session:
            assert session.scalars(select(ApiKey.last_used_at)).one() == first


def test_every_v1_operation_checks_the_scope_it_needs(
    keyed: Runtime, keyed_client: TestClient
) -> None:
    # Authentication covers every /v1 path anyway; this keeps a new route from serving any
    # authenticated key whatever its scopes: a key without `read` is refused every GET, a
    # key without `write` or `train` every POST.
    train_only = bearer(new_key(keyed, Scope.TRAIN))
    read_only = bearer(new_key(keyed, Scope.READ))
    paths = keyed_client.get("/openapi.json").json()["paths"]
    served: list[str] = []
    for template, operations in paths.items():
        if not template.startswith("/v1"):
            continue
        path = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", template)
        for method in operations:
            headers = train_only if method == "get" else read_only
            if keyed_client.request(method.upper(), path, headers=headers).status_code != 403:
                served.append(f"{method.upper()} {template}")
    assert len(paths) > 15
    assert served == []


def test_start_up_says_when_keys_are_required_but_none_exists(
    keyed: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="fragrance_ai.api.middleware.auth"):
        create_app(keyed)
    assert "none is active" in caplog.text
    assert "fragrance-ai keys create" in caplog.text
    caplog.clear()
    new_key(keyed, Scope.READ)
    with caplog.at_level(logging.ERROR, logger="fragrance_ai.api.middleware.auth"):
        create_app(keyed)
    assert "none is active" not in caplog.text


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "fragrance_ai.cli", *args]


@pytest.mark.integration
@pytest.mark.e2e
def test_the_production_profile_refuses_requests_without_a_valid_key(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    environment = {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "DATA_DIR": str(tmp_path),
        "API_PORT": str(free_port()),
    }
    subprocess.run(_command("migrate"), env=environment, check=True, timeout=120)
    created = subprocess.run(
        _command("keys", "create", "--name", "reader", "--scope", "read"),
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    log = (tmp_path / "api.log").open("wb")
    server = subprocess.Popen(_command("serve"), env=environment, stdout=log, stderr=log)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{environment['API_PORT']}") as client:
            wait_until_answering(client, server, "/ready")
            assert client.get(VOCABULARY).status_code == 401
            assert client.get(VOCABULARY, headers=bearer(token + "x")).status_code == 401
            assert client.get(VOCABULARY, headers=bearer(token)).status_code == 200
            posted = client.post("/v1/briefs", json={"text": "citrus"}, headers=bearer(token))
            assert posted.status_code == 403
    finally:
        server.terminate()
        code = server.wait(timeout=30)
        log.close()
    assert code in (0, -15), (tmp_path / "api.log").read_text()

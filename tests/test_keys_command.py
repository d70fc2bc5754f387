"""`fragrance-ai keys` as an operator runs it, and the migration that holds the keys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from fragrance_ai.api.app import create_app
from fragrance_ai.db.engine import create_database_engine
from fragrance_ai.db.migrate import alembic_config, upgrade_to_head
from fragrance_ai.runtime import build_runtime, install_runtime
from fragrance_ai.settings import SecuritySettings
from tests.conftest import make_settings


def _keys(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATA_DIR": str(data_dir), "APP_ENV": "development"}
    return subprocess.run(
        [sys.executable, "-m", "fragrance_ai.cli", "keys", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'fragrance-ai.sqlite3'}")
    upgrade_to_head(engine)
    engine.dispose()
    return tmp_path


def test_create_list_revoke_round_trip(migrated: Path) -> None:
    created = _keys(
        migrated, "create", "--name", "lab bench", "--scope", "read", "--scope", "train"
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("fai_")
    key_id = token.split("_")[1]
    assert f"key {key_id}" in created.stderr
    assert "shown this once" in created.stderr

    listed = _keys(migrated, "list")
    assert listed.returncode == 0, listed.stderr
    assert key_id in listed.stdout
    assert "lab bench" in listed.stdout
    assert "read,train" in listed.stdout
    secret = token.split("_", 2)[2]
    assert secret not in listed.stdout + listed.stderr

    revoked = _keys(migrated, "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert f"key {key_id} revoked" in revoked.stdout
    row = next(line for line in _keys(migrated, "list").stdout.splitlines() if key_id in line)
    assert row.rstrip().endswith("UTC"), row  # the REVOKED column is filled

    again = _keys(migrated, "revoke", key_id)
    assert again.returncode == 0


def test_the_key_printed_is_the_key_the_api_accepts_until_it_is_revoked(migrated: Path) -> None:
    token = _keys(migrated, "create", "--name", "ci", "--scope", "read").stdout.strip()
    settings = make_settings(
        migrated, security=SecuritySettings(require_api_keys=True, key_cache_ttl_s=0)
    )
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(runtime)) as client:
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/v1/briefs/vocabulary", headers=headers).status_code == 200
            assert _keys(migrated, "revoke", token.split("_")[1]).returncode == 0
            assert client.get("/v1/briefs/vocabulary", headers=headers).status_code == 401
    finally:
        runtime.close()
        install_runtime(None)


def test_refusals_have_their_exit_codes(
    migrated: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    unknown = _keys(migrated, "revoke", "0123456789ab")
    assert unknown.returncode == 1
    assert "no key 0123456789ab" in unknown.stderr
    no_scope = _keys(migrated, "create", "--name", "x")
    assert no_scope.returncode == 2
    assert "--scope" in no_scope.stderr
    bad_scope = _keys(migrated, "create", "--name", "x", "--scope", "root")
    assert bad_scope.returncode == 2
    blank_name = _keys(migrated, "create", "--name", "  ", "--scope", "read")
    assert blank_name.returncode == 2
    not_migrated = _keys(tmp_path_factory.mktemp("empty"), "list")
    assert not_migrated.returncode == 1
    assert "fragrance-ai migrate" in not_migrated.stderr


def _tables(url: str) -> set[str]:
    engine = create_database_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _downgrade_and_upgrade_again(url: str) -> None:
    engine = create_database_engine(url)
    try:
        upgrade_to_head(engine)
        assert {"api_keys", "idempotency_keys"} <= _tables(url)
        command.downgrade(alembic_config(engine), "0005")
        assert not {"api_keys", "idempotency_keys"} & _tables(url)
        assert "briefs" in _tables(url)
        upgrade_to_head(engine)
        assert {"api_keys", "idempotency_keys"} <= _tables(url)
    finally:
        engine.dispose()


def test_the_migration_downgrades_and_upgrades_on_sqlite(tmp_path: Path) -> None:
    _downgrade_and_upgrade_again(f"sqlite:///{tmp_path / 'db.sqlite3'}")


@pytest.mark.integration
def test_the_migration_downgrades_and_upgrades_on_postgresql(postgres_url: str) -> None:
    _downgrade_and_upgrade_again(postgres_url)

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text

from fragrance_ai.cli.main import main
from fragrance_ai.cli.migrate import EX_TEMPFAIL
from fragrance_ai.db.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    upgrade_to_head,
)
from tests.helpers import free_port


def test_migrate_creates_the_sqlite_database_under_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert main(["migrate"]) == 0
    assert main(["migrate"]) == 0  # idempotent
    database = tmp_path / "fragrance-ai.sqlite3"
    assert database.exists()
    engine = create_engine(f"sqlite:///{database}")
    assert current_revision(engine) == head_revision()
    engine.dispose()
    assert f"is at revision {head_revision()}" in capsys.readouterr().out


def test_a_worker_without_redis_explains_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert main(["worker", "llm"]) == 2
    assert "REDIS_URL: a standalone worker needs Redis" in capsys.readouterr().err


def test_an_unknown_worker_kind_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["worker", "gpu"])
    assert exited.value.code == 2
    assert "invalid choice: 'gpu'" in capsys.readouterr().err


# ---- migrate: exit statuses a service manager acts on, a backup only when one is pending ----


def _downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def _backups(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "backups").glob("fragrance-ai-*"))


def test_migrate_backs_up_only_when_a_migration_is_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    # A new installation: no schema, nothing to back up, then its first migration.
    assert main(["migrate", "--backup-if-pending"]) == 0
    assert "has no schema yet (never migrated): nothing to back up" in capsys.readouterr().out
    assert _backups(tmp_path) == []
    # Current: nothing pending, no backup (the unit runs this at every start).
    assert main(["migrate", "--backup-if-pending"]) == 0
    assert "backup" not in capsys.readouterr().out
    assert _backups(tmp_path) == []
    # An upgrade brings a migration: the state before it is kept, then migrated.
    engine = create_engine(f"sqlite:///{tmp_path / 'fragrance-ai.sqlite3'}")
    previous = _previous_revision()
    _downgrade(engine, previous)
    assert main(["migrate", "--backup-if-pending"]) == 0
    out = capsys.readouterr().out
    (backup,) = _backups(tmp_path)
    assert f"at schema revision {previous} written to {backup}" in out
    assert out.rstrip().endswith(f"is at revision {head_revision()}")
    assert current_revision(engine) == head_revision()
    engine.dispose()
    # Without the option no backup, pending or not.
    _downgrade(create_engine(f"sqlite:///{tmp_path / 'fragrance-ai.sqlite3'}"), previous)
    assert main(["migrate"]) == 0
    assert len(_backups(tmp_path)) == 1


def _previous_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    head = script.get_revision(head_revision())
    assert head is not None
    assert isinstance(head.down_revision, str)
    return head.down_revision


def test_migrate_backs_up_a_postgresql_database_before_a_pending_migration(
    tmp_path: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    engine = create_engine(postgres_url)
    try:
        upgrade_to_head(engine)
        assert main(["migrate", "--backup-if-pending"]) == 0
        assert _backups(tmp_path) == []
        _downgrade(engine, _previous_revision())
        assert main(["migrate", "--backup-if-pending"]) == 0
        (backup,) = _backups(tmp_path)
        assert backup.suffix == ".pgdump"
        assert f"written to {backup}" in capsys.readouterr().out
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_migrate_says_an_unreachable_database_is_worth_trying_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    closed = f"postgresql+psycopg://fragrance@127.0.0.1:{free_port()}/nowhere"
    monkeypatch.setenv("DATABASE_URL", closed)
    assert main(["migrate", "--backup-if-pending"]) == EX_TEMPFAIL == 75
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("fragrance-ai")]
    assert f"the database {closed} cannot be reached (OperationalError: " in line
    assert line.endswith("try again once it is up")
    assert not (tmp_path / "backups").exists()


def test_migrate_refuses_a_schema_from_a_newer_version_at_once_with_how_to_roll_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert main(["migrate"]) == 0
    engine = create_engine(f"sqlite:///{tmp_path / 'fragrance-ai.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_newer'"))
    engine.dispose()
    capsys.readouterr()
    assert main(["migrate", "--backup-if-pending"]) == 2
    # One line of its own (the rest on stderr is alembic's log).
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("fragrance-ai")]
    assert "is at schema revision 0099_newer, which this version" in line
    assert "To roll back, stop every fragrance-ai process and restore the backup" in line
    assert "fragrance-ai db restore FILE" in line
    # Refused before anything else: no backup of a schema this version cannot restore into.
    assert _backups(tmp_path) == []

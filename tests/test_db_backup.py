"""`fragrance-ai db backup|restore` and the refusal to run on a schema from a newer version:
an upgrade is rolled back by restoring the backup taken before it, on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from fragrance_ai.db.backup import backup_name, create_backup
from fragrance_ai.db.engine import create_database_engine, create_session_factory
from fragrance_ai.db.migrate import alembic_config, current_revision, upgrade_to_head
from fragrance_ai.db.models import Brief, Job, JobKind, JobStatus
from fragrance_ai.db.repositories import save_designed_formula
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.designer import RuleBasedDesigner
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.settings import DatabaseSettings
from tests.conftest import REDIS_TEST_URL, make_settings

PREVIOUS = "0007"
HEAD = "0008"
FUTURE = "0099_from_a_newer_version"


def _cli(
    data_dir: Path, database_url: str | None, *args: str, redis_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATA_DIR": str(data_dir), "APP_ENV": "development"}
    if database_url:
        environment["DATABASE_URL"] = database_url
    if redis_url:
        environment["REDIS_URL"] = redis_url
    return subprocess.run(
        [sys.executable, "-m", "fragrance_ai.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _engine(data_dir: Path, database_url: str | None) -> Engine:
    return create_database_engine(
        make_settings(data_dir, database_url=database_url).effective_database_url
    )


def _design_a_brief(engine: Engine, text_: str, *, seed: int | None = None) -> uuid.UUID:
    """A brief, its finished job and its formulas, stored by the code that stores them."""
    catalogue = load_catalogue()
    parsed = DeterministicBriefParser(catalogue).parse(text_)
    with create_session_factory(engine)() as session:
        brief = Brief(text=text_, mode="fast", parsed=parsed.model_dump(mode="json"), seed=seed)
        session.add(brief)
        session.flush()
        job = Job(
            kind=JobKind.DESIGN_FROM_BRIEF.value, status=JobStatus.FINISHED.value, brief_id=brief.id
        )
        session.add(job)
        session.flush()
        for designed in RuleBasedDesigner(catalogue).design(parsed, count=2):
            save_designed_formula(
                session, designed, designer="rule_based", brief_id=brief.id, job_id=job.id
            )
        session.commit()
        return brief.id


def _briefs(engine: Engine) -> dict[str, tuple[int, int]]:
    """Each brief's text with how many formulas and jobs it has (plain SQL: the ORM's
    models are the newest schema's, and these queries also read the previous one)."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT b.text,"
                " (SELECT count(*) FROM formulas f WHERE f.brief_id = b.id),"
                " (SELECT count(*) FROM jobs j WHERE j.brief_id = b.id)"
                " FROM briefs b"
            )
        )
        return {row[0]: (row[1], row[2]) for row in rows}


# Objects of every kind that a newer migration might create beside its tables; the first two
# are the ones that outlived the restore when it dropped only tables.
_NEWER_SCHEMA_OBJECTS = (
    "CREATE TYPE upgrade_mood AS ENUM ('fresh', 'warm')",
    "CREATE SEQUENCE upgrade_numbers",
    "CREATE DOMAIN upgrade_percent AS numeric CHECK (VALUE BETWEEN 0 AND 100)",
    "CREATE TYPE upgrade_pair AS (low integer, high integer)",
    "CREATE TABLE upgrade_moods (id serial PRIMARY KEY, mood upgrade_mood, share upgrade_percent)",
    "CREATE VIEW upgrade_mood_view AS SELECT mood FROM upgrade_moods",
    "CREATE MATERIALIZED VIEW upgrade_mood_counts AS SELECT count(*) FROM upgrade_moods",
    "CREATE FUNCTION upgrade_twice(n integer) RETURNS integer LANGUAGE sql AS 'SELECT 2 * n'",
    "CREATE PROCEDURE upgrade_nothing() LANGUAGE sql AS 'SELECT 1'",
)


def _schema_objects(engine: Engine) -> set[tuple[str, str]]:
    """Every relation, routine, type and collation in the database's schema, by kind and name."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT 'relation ' || relkind::text, relname::text FROM pg_class"
                " WHERE relnamespace = current_schema()::regnamespace"
                " UNION ALL SELECT 'routine', oid::regprocedure::text FROM pg_proc"
                " WHERE pronamespace = current_schema()::regnamespace"
                " UNION ALL SELECT 'type ' || typtype::text, typname::text FROM pg_type"
                " WHERE typnamespace = current_schema()::regnamespace"
                " UNION ALL SELECT 'collation', collname::text FROM pg_collation"
                " WHERE collnamespace = current_schema()::regnamespace"
            )
        )
        return {(row[0], row[1]) for row in rows}


def _upgrade_then_rollback(data_dir: Path, database_url: str | None) -> None:
    engine = _engine(data_dir, database_url)
    try:
        # The previous version's database, with work in it: designed at head, then taken
        # back to the previous revision, as an installation of that version holds it.
        upgrade_to_head(engine)
        _design_a_brief(engine, "fresh citrus cologne for summer with a woody base")
        command.downgrade(alembic_config(engine), PREVIOUS)
        assert current_revision(engine) == PREVIOUS
        before = _briefs(engine)
        assert before == {"fresh citrus cologne for summer with a woody base": (2, 1)}
        objects_before = _schema_objects(engine) if engine.dialect.name == "postgresql" else set()

        # The upgrade: a backup first, then the migration, then work the new version does.
        backed_up = _cli(data_dir, database_url, "db", "backup")
        assert backed_up.returncode == 0, backed_up.stderr
        (backup,) = (data_dir / "backups").iterdir()
        assert backup.name.endswith(f"-{PREVIOUS}{backup.suffix}")
        assert f"written to {backup}" in backed_up.stdout
        migrated = _cli(data_dir, database_url, "migrate")
        assert migrated.returncode == 0, migrated.stderr
        # The column the head revision adds (0008).
        assert "suggestions" in {c["name"] for c in inspect(engine).get_columns("briefs")}
        _design_a_brief(engine, "a warm amber vanilla evening perfume", seed=42)
        with engine.begin() as connection:
            # What a newer version's migration might add: a table the backup never held.
            connection.execute(text("CREATE TABLE added_by_the_upgrade (id integer)"))
            if engine.dialect.name == "postgresql":
                # And what outlives dropping every table: a type, a sequence, a function...
                for statement in _NEWER_SCHEMA_OBJECTS:
                    connection.execute(text(statement))

        # The rollback.
        restored = _cli(data_dir, database_url, "db", "restore", str(backup))
        assert restored.returncode == 0, restored.stderr
        assert f"restored from {backup} (schema revision {PREVIOUS})" in restored.stdout
        engine.dispose()
        assert current_revision(engine) == PREVIOUS
        schema = inspect(engine)
        assert "suggestions" not in {column["name"] for column in schema.get_columns("briefs")}
        assert "added_by_the_upgrade" not in schema.get_table_names()
        assert _briefs(engine) == before
        if engine.dialect.name == "postgresql":
            objects_after = _schema_objects(engine)
            assert ("type e", "upgrade_mood") not in objects_after
            assert ("relation S", "upgrade_numbers") not in objects_after
            assert objects_after == objects_before

        # The restored database takes the upgrade again.
        again = _cli(data_dir, database_url, "migrate")
        assert again.returncode == 0, again.stderr
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


@pytest.mark.integration
def test_postgresql_upgrade_then_rollback_brings_back_the_previous_schema_and_its_data(
    tmp_path: Path, postgres_url: str
) -> None:
    _upgrade_then_rollback(tmp_path, postgres_url)


def test_sqlite_upgrade_then_rollback_brings_back_the_previous_schema_and_its_data(
    tmp_path: Path,
) -> None:
    _upgrade_then_rollback(tmp_path, None)


def test_backup_of_a_database_never_migrated_writes_nothing_and_succeeds(tmp_path: Path) -> None:
    # The service's first start takes its backup before its first migration.
    result = _cli(tmp_path, None, "db", "backup")
    assert result.returncode == 0, result.stderr
    assert "nothing to back up" in result.stdout
    assert not (tmp_path / "backups").exists()


def test_only_the_newest_backups_kept_are_kept(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database=DatabaseSettings(backups_kept=2))
    engine = _engine(tmp_path, None)
    upgrade_to_head(engine)
    engine.dispose()
    directory = tmp_path / "backups"
    directory.mkdir()
    (directory / "operator-notes.txt").write_text("not a backup: never pruned")
    first = datetime(2026, 12, 1, tzinfo=UTC)
    written = []
    for day in range(4):
        backup = create_backup(settings, now=first + timedelta(days=day))
        assert backup is not None
        written.append(backup.path.name)
    assert written[0] == backup_name(first, HEAD, "sqlite")
    assert sorted(path.name for path in directory.iterdir()) == sorted(
        [*written[-2:], "operator-notes.txt"]
    )


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage, not a backup\n", b"SQLite format 3\x00 but cut short"],
    ids=["empty", "text", "torn-sqlite"],
)
def test_restoring_a_file_that_is_not_a_backup_is_refused_and_changes_nothing(
    tmp_path: Path, content: bytes
) -> None:
    engine = _engine(tmp_path, None)
    upgrade_to_head(engine)
    engine.dispose()
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(content)
    result = _cli(tmp_path, None, "db", "restore", str(garbage))
    assert result.returncode == 2
    assert result.stderr.startswith(f"fragrance-ai db restore: {garbage}")
    assert "not a fragrance-ai backup" in result.stderr
    assert "Traceback" not in result.stderr
    assert current_revision(engine) == HEAD


@pytest.mark.integration
def test_restoring_a_torn_or_foreign_archive_into_postgresql_is_refused(
    tmp_path: Path, postgres_url: str
) -> None:
    engine = create_database_engine(postgres_url)
    upgrade_to_head(engine)
    backed_up = _cli(
        tmp_path, postgres_url, "db", "backup", "--output", str(tmp_path / "whole.pgdump")
    )
    assert backed_up.returncode == 0, backed_up.stderr
    whole = (tmp_path / "whole.pgdump").read_bytes()
    torn = tmp_path / "torn.pgdump"
    torn.write_bytes(whole[: len(whole) // 3])
    sqlite_backup = tmp_path / "embedded.sqlite3"
    embedded = _engine(tmp_path, None)
    upgrade_to_head(embedded)
    embedded.dispose()
    assert create_backup(make_settings(tmp_path), sqlite_backup) is not None
    for refused, reason in (
        (torn, "cannot be read as a backup"),
        (sqlite_backup, "is a SQLite backup"),
    ):
        result = _cli(tmp_path, postgres_url, "db", "restore", str(refused))
        assert result.returncode == 2, result.stderr
        assert reason in result.stderr
        assert "Traceback" not in result.stderr
    assert current_revision(engine) == HEAD
    engine.dispose()


@pytest.mark.parametrize(
    "arguments",
    [["serve", "--port", "0"], ["migrate"], ["worker", "rl", "--burst"], ["dev", "--port", "0"]],
    ids=["serve", "migrate", "worker", "dev"],
)
def test_a_schema_from_a_newer_version_stops_the_start_with_how_to_roll_back(
    tmp_path: Path, arguments: list[str]
) -> None:
    engine = _engine(tmp_path, None)
    upgrade_to_head(engine)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE alembic_version SET version_num = :future"), {"future": FUTURE}
        )
    engine.dispose()
    # A standalone worker needs a Redis URL to get as far as its start-up checks.
    result = _cli(tmp_path, None, *arguments, redis_url=REDIS_TEST_URL)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"schema revision {FUTURE}" in result.stderr
    assert "fragrance-ai db restore FILE" in result.stderr
    assert "Traceback" not in result.stderr

"""Backups of the database, taken before an upgrade migrates it, and restored to roll back.

A backup is one file: PostgreSQL's custom-format archive (`pg_dump --format=custom`) or, for
the embedded default, a copy of the SQLite database made with SQLite's online backup API (a
consistent copy even while the API writes). Backups taken without `--output` go to
`data_dir/backups`, named `fragrance-ai-<UTC time>-<schema revision>.<pgdump|sqlite3>`, and
only the newest `database.backups_kept` stay. A backup is written to a temporary file that
is renamed over its name once complete (fragrance_ai.platform.atomic_file), so a killed backup never
leaves a file that looks whole.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from fragrance_ai.db import backup_postgres
from fragrance_ai.db.backup_errors import NotABackup
from fragrance_ai.db.engine import create_database_engine
from fragrance_ai.db.migrate import current_revision
from fragrance_ai.platform.atomic_file import replaced_atomically
from fragrance_ai.settings import Settings

BACKUPS_DIR = "backups"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SUFFIX = {"sqlite": ".sqlite3", "postgresql": ".pgdump"}
_NAME = re.compile(r"^fragrance-ai-\d{8}T\d{6}\.\d{6}Z-[A-Za-z0-9_]+\.(sqlite3|pgdump)$")


@dataclass(frozen=True)
class Backup:
    path: Path
    # The database's alembic revision when the backup was taken.
    revision: str


def backups_directory(settings: Settings) -> Path:
    return settings.data_dir / BACKUPS_DIR


def backup_name(taken_at: datetime, revision: str, backend: str) -> str:
    # The time first, to the microsecond: names sort in the order the backups were taken.
    stamp = taken_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"fragrance-ai-{stamp}-{re.sub(r'[^A-Za-z0-9_]', '_', revision)}{_SUFFIX[backend]}"


def create_backup(
    settings: Settings, output: Path | None = None, *, now: datetime | None = None
) -> Backup | None:
    """The backup written, or None when the database has no schema yet (nothing to keep:
    the first start of a new installation takes its backup before its first migration)."""
    url = settings.effective_database_url
    backend = _backend(url)
    if backend == "sqlite" and not _sqlite_path(url).exists():
        return None
    engine = create_database_engine(url)
    try:
        revision = current_revision(engine)
    finally:
        engine.dispose()
    if revision is None:
        return None
    directory = backups_directory(settings)
    taken_at = now or datetime.now(UTC)
    target = output or directory / backup_name(taken_at, revision, backend)
    with replaced_atomically(target) as temporary:
        if backend == "sqlite":
            _copy_sqlite(_sqlite_path(url), temporary)
            # One self-contained file: no -wal beside it to lose when it is copied away.
            with closing(sqlite3.connect(temporary)) as copy:
                copy.execute("PRAGMA journal_mode=DELETE")
        else:
            backup_postgres.dump(url, temporary)
    if output is None:
        prune_backups(directory, settings.database.backups_kept)
    return Backup(target, revision)


def restore_backup(settings: Settings, path: Path) -> Backup:
    """Replaces the whole database with the backup's; raises NotABackup for any other file."""
    url = settings.effective_database_url
    backend = _backend(url)
    kind = _kind_of(path)
    if kind != backend:
        raise NotABackup(
            f"{path} is a {_TITLE[kind]} backup, but this installation's database is "
            f"{_TITLE[backend]}"
        )
    if backend == "sqlite":
        revision = _sqlite_revision(path)
        _copy_sqlite(path, _sqlite_path(url))
    else:
        revision = backup_postgres.revision_in(path)
        backup_postgres.restore(url, path)
    return Backup(path, revision)


def prune_backups(directory: Path, keep: int) -> list[Path]:
    """Removes all but the newest `keep` backups (by name) in `directory`; returns them.
    Files not named as backups are never touched."""
    backups = sorted(entry for entry in directory.iterdir() if _NAME.match(entry.name))
    removed = backups[: max(len(backups) - keep, 0)]
    for old in removed:
        old.unlink(missing_ok=True)
    return removed


_TITLE = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _backend(url: str) -> str:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def _kind_of(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as error:
        raise NotABackup(f"{path} cannot be read: {error.strerror}") from error
    if head == _SQLITE_MAGIC:
        return "sqlite"
    if head.startswith(backup_postgres.ARCHIVE_MAGIC):
        return "postgresql"
    raise NotABackup(
        f"{path} is not a fragrance-ai backup (neither a SQLite database nor a pg_dump "
        "custom-format archive)"
    )


def _sqlite_revision(path: Path) -> str:
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as source:
            if source.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise NotABackup(f"{path} is a damaged SQLite database")
            row = source.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as error:
        raise NotABackup(f"{path} is not a fragrance-ai backup: {error}") from error
    if row is None:
        raise NotABackup(f"{path} is not a fragrance-ai backup: it records no schema revision")
    return str(row[0])


def _copy_sqlite(source_path: Path, target_path: Path) -> None:
    """SQLite's online backup: a consistent copy of `source_path` replaces `target_path`'s
    content, whatever writers on the source do meanwhile."""
    with (
        closing(sqlite3.connect(source_path)) as source,
        closing(sqlite3.connect(target_path)) as target,
    ):
        source.backup(target)

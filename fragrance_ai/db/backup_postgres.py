"""PostgreSQL backups through the client tools: pg_dump, pg_restore and psql.

The database URL is the application's (SQLAlchemy's `postgresql+psycopg://...`); the tools
get it as a libpq URI without the password, which goes in PGPASSWORD so that it never shows
in the process list.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from fragrance_ai.db.backup_errors import BackupFailed, NotABackup

# The first bytes of a custom-format archive (pg_dump --format=custom).
ARCHIVE_MAGIC = b"PGDMP"

# Run in the restore's own transaction, before the archive: `pg_restore --clean` drops only
# what the archive holds, so whatever a newer migration created (a table, an enum type, a
# sequence, a function, a view) would outlive the rollback, and the next upgrade would stop on
# it ("already exists"). So every object of the schema goes first, except those that come and
# go with another (deptype 'i': array and row types, a range's constructors) and those of an
# extension ('e': the archive's CREATE EXTENSION IF NOT EXISTS keeps them). The schema itself
# stays, with its owner and grants: dropping and recreating it would need its owner, which on
# PostgreSQL 14 and older is not the database's owner. The names are read before the first
# DROP, and each DROP cascades, so order does not matter (IF EXISTS: gone with an earlier one).
_DROP_EVERY_OBJECT = """
DO $$
DECLARE
    statement text;
BEGIN
    FOR statement IN SELECT unnest(ARRAY(
        SELECT format('DROP %s IF EXISTS %s CASCADE', kind, name) FROM (
            SELECT CASE c.relkind
                       WHEN 'v' THEN 'VIEW'
                       WHEN 'm' THEN 'MATERIALIZED VIEW'
                       WHEN 'f' THEN 'FOREIGN TABLE'
                       WHEN 'S' THEN 'SEQUENCE'
                       ELSE 'TABLE'
                   END AS kind,
                   c.oid::regclass::text AS name, 'pg_class'::regclass AS catalog, c.oid AS object
            FROM pg_class c
            WHERE c.relnamespace = current_schema()::regnamespace
              AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
            UNION ALL
            SELECT 'ROUTINE', p.oid::regprocedure::text, 'pg_proc'::regclass, p.oid
            FROM pg_proc p
            WHERE p.pronamespace = current_schema()::regnamespace
            UNION ALL
            SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
                   t.oid::regtype::text, 'pg_type'::regclass, t.oid
            FROM pg_type t
            WHERE t.typnamespace = current_schema()::regnamespace
              AND t.typtype IN ('b', 'c', 'd', 'e', 'r')
            UNION ALL
            SELECT 'COLLATION', format('%I.%I', current_schema(), o.collname),
                   'pg_collation'::regclass, o.oid
            FROM pg_collation o
            WHERE o.collnamespace = current_schema()::regnamespace
        ) AS objects
        WHERE NOT EXISTS (
            SELECT FROM pg_depend d
            WHERE d.classid = objects.catalog AND d.objid = objects.object AND d.objsubid = 0
              AND d.deptype IN ('e', 'i')
        )
    )) LOOP
        EXECUTE statement;
    END LOOP;
END $$;
"""

_CLIENT_HINT = (
    "install the PostgreSQL client tools (Debian: postgresql-client) of the server's "
    "major version or newer"
)


def dump(url: str, target: Path) -> None:
    conninfo, environment = _libpq(url)
    _run(
        [
            "pg_dump",
            "--format=custom",
            "--no-password",
            f"--file={target}",
            f"--dbname={conninfo}",
        ],
        environment,
    )


def revision_in(archive: Path) -> str:
    """The alembic revision the archive holds; NotABackup for an archive without one, or
    one pg_restore cannot read (damaged, cut short, or written by a newer pg_dump)."""
    try:
        script = _run(
            ["pg_restore", "--data-only", "--table=alembic_version", "--file=-", str(archive)],
            dict(os.environ),
        )
    except BackupFailed as error:
        raise NotABackup(f"{archive} cannot be read as a backup: {error}") from error
    lines = script.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line and index + 1 < len(lines):
            revision = lines[index + 1]
            if revision != "\\.":
                return revision
    raise NotABackup(f"{archive} is not a fragrance-ai backup: it records no schema revision")


def restore(url: str, archive: Path) -> None:
    """Replaces every object of the database's schema with the archive's, in one
    transaction: on any error nothing has changed."""
    conninfo, environment = _libpq(url)
    script_command = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--file=-"]
    load_command = [
        "psql",
        "--no-psqlrc",
        "--quiet",
        "--no-password",
        "--set=ON_ERROR_STOP=1",
        "--single-transaction",
        f"--command={_DROP_EVERY_OBJECT}",
        "--file=-",
        f"--dbname={conninfo}",
    ]
    with tempfile.TemporaryFile() as script_errors:
        try:
            script = subprocess.Popen(
                [*script_command, str(archive)],
                stdout=subprocess.PIPE,
                stderr=script_errors,
                env=environment,
            )
        except FileNotFoundError as error:
            raise BackupFailed(f"pg_restore is not installed: {_CLIENT_HINT}") from error
        try:
            _run(load_command, environment, stdin=script.stdout)
        finally:
            assert script.stdout is not None
            script.stdout.close()
            script.wait()
        if script.returncode != 0:
            script_errors.seek(0)
            detail = _summary(script_errors.read().decode(errors="replace"))
            raise BackupFailed(f"pg_restore failed: {detail}")


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    parsed = make_url(url)
    environment = dict(os.environ)
    if parsed.password is not None:
        environment["PGPASSWORD"] = str(parsed.password)
    conninfo = parsed.set(drivername="postgresql", password=None)
    return conninfo.render_as_string(hide_password=False), environment


def _run(
    command: list[str],
    environment: dict[str, str],
    *,
    stdin: IO[bytes] | None = None,
) -> str:
    try:
        finished = subprocess.run(
            command,
            stdin=stdin,
            capture_output=True,
            env=environment,
            check=False,
        )
    except FileNotFoundError as error:
        raise BackupFailed(f"{command[0]} is not installed: {_CLIENT_HINT}") from error
    if finished.returncode != 0:
        detail = _summary(finished.stderr.decode(errors="replace"))
        if "version mismatch" in detail or "unsupported version" in detail:
            detail = f"{detail} ({_CLIENT_HINT})"
        raise BackupFailed(f"{command[0]} failed: {detail}")
    return finished.stdout.decode(errors="replace")


def _summary(text: str) -> str:
    """The tool's last few lines of complaint: an error and its detail, in one line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines[-3:]) if lines else "no message"

"""`fragrance-ai migrate`: the database schema brought up to date, refused when the
database is newer than this release. Its exit status (EXIT_STATUSES, also in --help) tells a
service manager what to do next (modules/fragrance-ai/migrate.nix)."""

from __future__ import annotations

import argparse
import sys

from fragrance_ai.settings import Settings, mask_url

# sysexits.h: a temporary failure; the same command may work later.
EX_TEMPFAIL = 75

EXIT_STATUSES = """exit status:
  0   the schema is at this version's newest revision, migrated now or already
  1   the backup or a migration failed; the message says why
  2   refused, and trying again changes nothing: the schema is newer than this version
      (the message says how to roll back), or the configuration is wrong
  75  the database cannot be reached: try again once it is up
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXIT_STATUSES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--backup-if-pending",
        action="store_true",
        help="first back the database up, as `fragrance-ai db backup` does, when a migration "
        "is pending; a schema already current is not backed up",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from fragrance_ai.db.engine import create_database_engine
    from fragrance_ai.db.migrate import current_revision, head_revision, upgrade_to_head
    from fragrance_ai.db.schema_guard import refuse_unknown_schema

    where = mask_url(settings.effective_database_url)
    engine = create_database_engine(settings.effective_database_url)
    try:
        try:
            with engine.connect():
                pass
        except SQLAlchemyError as error:
            # The driver's own first line ("connection refused"), not SQLAlchemy's wrapping.
            lines = str(error.orig if isinstance(error, DBAPIError) else error).splitlines()
            print(
                f"fragrance-ai migrate: the database {where} cannot be reached "
                f"({type(error).__name__}: {lines[0].strip() if lines else 'no detail'}); "
                "try again once it is up",
                file=sys.stderr,
            )
            return EX_TEMPFAIL
        # SchemaTooNew: exit status 2 and the one line that says how to roll back (cli/main).
        refuse_unknown_schema(engine, where)
        pending = current_revision(engine) != head_revision()
        if args.backup_if_pending and pending and not _backup(settings, where):
            return 1
        revision = upgrade_to_head(engine)
    finally:
        engine.dispose()
    print(f"database {where} is at revision {revision}")
    return 0


def _backup(settings: Settings, where: str | None) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    from fragrance_ai.db.backup import create_backup
    from fragrance_ai.db.backup_errors import BackupFailed

    try:
        backup = create_backup(settings)
    except (BackupFailed, SQLAlchemyError, OSError) as error:
        print(f"fragrance-ai migrate: backup before migrating failed: {error}", file=sys.stderr)
        return False
    if backup is None:
        print(f"database {where} has no schema yet (never migrated): nothing to back up")
    else:
        print(f"backup of {where} at schema revision {backup.revision} written to {backup.path}")
    return True

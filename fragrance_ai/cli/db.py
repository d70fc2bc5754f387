"""`fragrance-ai db backup|restore`: the database kept before an upgrade, and put back to roll
one back (docs/operations.md#backups-and-rolling-back-an-upgrade)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from fragrance_ai.db.backup_errors import BackupFailed, NotABackup
from fragrance_ai.settings import Settings, mask_url

# The backup machinery (alembic, the database drivers) is imported by the actions, not here:
# the CLI builds every subcommand's parser at each start, a health check's included.


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="db_command", required=True)
    backup = commands.add_parser(
        "backup", help="write a backup of the database (by default to DATA_DIR/backups)"
    )
    backup.add_argument(
        "--output",
        type=Path,
        help="write it to this file instead (kept however many backups there are)",
    )
    backup.set_defaults(db_action=_backup)
    restore = commands.add_parser(
        "restore", help="replace the whole database with a backup; stop every process first"
    )
    restore.add_argument("file", type=Path, help="a file `fragrance-ai db backup` wrote")
    restore.set_defaults(db_action=_restore)


def run(settings: Settings, args: argparse.Namespace) -> int:
    action: Callable[[Settings, argparse.Namespace], int] = args.db_action
    try:
        return action(settings, args)
    except NotABackup as error:
        print(f"fragrance-ai db restore: {error}", file=sys.stderr)
        return 2
    except BackupFailed as error:
        print(f"fragrance-ai db {args.db_command}: {error}", file=sys.stderr)
        return 1
    except (SQLAlchemyError, OSError) as error:
        where = mask_url(settings.effective_database_url)
        print(
            f"fragrance-ai db {args.db_command}: the database {where} cannot be used: {error}",
            file=sys.stderr,
        )
        return 1


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    where = mask_url(settings.effective_database_url)
    from fragrance_ai.db.backup import backups_directory, create_backup

    backup = create_backup(settings, args.output)
    if backup is None:
        print(f"database {where} has no schema yet (never migrated): nothing to back up")
        return 0
    kept = (
        ""
        if args.output
        else f"; the newest {settings.database.backups_kept} in {backups_directory(settings)} kept"
    )
    print(f"backup of {where} at schema revision {backup.revision} written to {backup.path}{kept}")
    return 0


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    where = mask_url(settings.effective_database_url)
    from fragrance_ai.db.backup import restore_backup
    from fragrance_ai.db.migrate import head_revision

    backup = restore_backup(settings, args.file)
    next_step = (
        ""
        if backup.revision == head_revision()
        else "; `fragrance-ai migrate` brings it to this version's schema, or start the "
        "version that wrote it"
    )
    print(
        f"database {where} restored from {backup.path} (schema revision {backup.revision})"
        f"{next_step}"
    )
    return 0

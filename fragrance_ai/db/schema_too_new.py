"""The refusal of a database that a newer version migrated, apart from the check itself
(fragrance_ai.db.schema_guard), so that the CLI can name it without importing alembic for
every command (a container health check runs the CLI every few seconds)."""

from __future__ import annotations


class SchemaTooNew(Exception):
    """The database's schema revision is not one of this version's migrations."""

    def __init__(self, revision: str, where: str | None, newest: str) -> None:
        self.revision = revision
        super().__init__(
            f"the database {where} is at schema revision {revision}, which this version of "
            f"fragrance-ai does not know (its newest is {newest}): a newer version "
            "migrated it. To roll back, stop every fragrance-ai process and restore the backup "
            "taken before the upgrade with `fragrance-ai db restore FILE` (backups are in "
            "DATA_DIR/backups); or run the newer version again."
        )

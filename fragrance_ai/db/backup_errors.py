"""Why `fragrance-ai db backup` or `db restore` stopped, worded for the operator."""

from __future__ import annotations


class NotABackup(Exception):
    """The file given to restore is not a backup this installation can restore (exit 2)."""


class BackupFailed(Exception):
    """pg_dump, pg_restore or psql failed, or is missing (exit 1)."""

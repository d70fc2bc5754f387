"""`fragrance-ai migrate`: the database schema brought up to date, refused when the
database is newer than this release."""

from __future__ import annotations

import argparse

from fragrance_ai.settings import Settings, mask_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: the database is the configuration's."""


def run(settings: Settings, _args: argparse.Namespace) -> int:
    from fragrance_ai.db.engine import create_database_engine
    from fragrance_ai.db.migrate import upgrade_to_head
    from fragrance_ai.db.schema_guard import refuse_unknown_schema

    engine = create_database_engine(settings.effective_database_url)
    try:
        refuse_unknown_schema(engine, mask_url(settings.effective_database_url))
        revision = upgrade_to_head(engine)
    finally:
        engine.dispose()
    print(f"database {mask_url(settings.effective_database_url)} is at revision {revision}")
    return 0

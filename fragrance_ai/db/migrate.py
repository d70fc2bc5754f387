"""Alembic, driven from code so no alembic.ini has to sit in the working directory."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # env.py takes the engine from here; a URL in the ini would go through configparser
    # interpolation and break on a '%' in a password.
    config.attributes["engine"] = engine
    return config


def upgrade_to_head(engine: Engine) -> str:
    config = alembic_config(engine)
    command.upgrade(config, "head")
    return head_revision()


@cache
def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config)


@cache
def head_revision() -> str:
    head = _scripts().get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


@cache
def known_revisions() -> frozenset[str]:
    """Every revision this version's migrations name; a database at any other was migrated
    by a newer version."""
    return frozenset(script.revision for script in _scripts().walk_revisions())


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()

"""The migrations create exactly the schema the models declare, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from fragrance_ai.db.engine import create_database_engine
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.db.models import Base


def _differences(engine: Engine) -> list[object]:
    upgrade_to_head(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_sqlite_schema_matches_the_models(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'schema.sqlite3'}")
    try:
        assert _differences(engine) == []
    finally:
        engine.dispose()


@pytest.mark.integration
def test_postgresql_schema_matches_the_models(postgres_url: str) -> None:
    engine = create_database_engine(postgres_url)
    try:
        assert _differences(engine) == []
    finally:
        engine.dispose()

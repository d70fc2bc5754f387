"""Alembic environment: the engine comes from fragrance_ai.db.migrate.alembic_config."""

from alembic import context
from sqlalchemy import Engine

from fragrance_ai.db.models import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations with `fragrance-ai migrate`, which supplies the engine")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()

"""Refuses a database that a newer version of Fragrance AI has migrated.

After an upgrade is rolled back (the previous package started again), the database may hold
a schema revision that none of this version's migration scripts names: its code would read
and write columns that are not what it expects, and alembic itself stops with a traceback.
`serve`, `worker`, `dev` and `migrate` check first and stop with one line that says how to
get back to a schema this version knows.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from fragrance_ai.db.engine import create_database_engine
from fragrance_ai.db.migrate import current_revision, head_revision, known_revisions
from fragrance_ai.db.schema_too_new import SchemaTooNew
from fragrance_ai.settings import Settings, mask_url

log = logging.getLogger(__name__)


def refuse_unknown_schema(engine: Engine, where: str | None) -> None:
    """Raises SchemaTooNew; a database without a schema yet passes (migrate creates it)."""
    revision = current_revision(engine)
    if revision is not None and revision not in known_revisions():
        raise SchemaTooNew(revision, where, head_revision())


def refuse_unknown_schema_at_start(settings: Settings) -> None:
    """For serve and the workers: a database that cannot be reached now is not refused;
    those processes wait for it (/ready says so), and a migrate must run before it is used."""
    url = settings.effective_database_url
    engine = create_database_engine(url)
    try:
        refuse_unknown_schema(engine, mask_url(url))
    except SQLAlchemyError as error:
        log.warning(
            "schema revision of %s not checked at start: %s", mask_url(url), type(error).__name__
        )
    finally:
        engine.dispose()

"""Formulas keep the optimiser's objective scores and where the search found them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("formulas", sa.Column("scores", _JSON, nullable=True))
    op.add_column("formulas", sa.Column("search", _JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("formulas", "search")
    op.drop_column("formulas", "scores")

"""Briefs keep the path their reading took: mode asked and used, models, cache, fallbacks,
conflicts and the time per role.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("briefs", sa.Column("reading", _JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("briefs", "reading")

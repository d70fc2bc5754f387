"""Briefs keep what the language models read after the design had started: suggestions the
perfumer may accept on the workbench (issue 26), and whether that reading is still going on.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("briefs", sa.Column("suggestions", _JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("briefs", "suggestions")

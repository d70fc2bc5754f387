"""Briefs keep the dosage the perfumer asked for on submitting, which wins over any dosage
the text names (as the requested product does).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("briefs", sa.Column("requested_dosage_percent", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("briefs", "requested_dosage_percent")

"""Designs that repeat: a brief may carry the seed its design search draws from (without
one the job's id seeds it, as before), and an option keeps its place among its job's
options, which are stored in one commit and may share a timestamp (ordered by their ids
before, which are random across installations).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("briefs", sa.Column("seed", sa.BigInteger(), nullable=True))
    op.add_column("formulas", sa.Column("option_index", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("formulas", "option_index")
    op.drop_column("briefs", "seed")

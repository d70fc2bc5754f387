"""Learning from choices: variation sets, choices and their pairwise preferences, reward
models, training runs, policies (checkpoints, one active at most) and rollbacks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # Tables 0001 created for this work and nothing ever wrote: replaced by their real shape.
    op.drop_table("feedback")
    op.drop_table("checkpoints")
    op.drop_table("training_runs")
    op.create_table(
        "reward_models",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("training_run_id", sa.Uuid(), nullable=True),
        sa.Column("user_ref", sa.String(length=128), nullable=True),
        sa.Column("preferences", sa.Integer(), nullable=False),
        sa.Column("heldout_accuracy", sa.Float(), nullable=True),
        sa.Column("heldout_pairs", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("metrics", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version"),
    )
    op.create_table(
        "training_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("user_ref", sa.String(length=128), nullable=True),
        sa.Column("config", _JSON, nullable=False),
        sa.Column("base_policy_id", sa.Uuid(), nullable=True),
        sa.Column("reward_model_id", sa.Uuid(), nullable=True),
        sa.Column("updates", _JSON, nullable=False),
        sa.Column("metrics", _JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reward_model_id"],
            ["reward_models.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("training_runs", schema=None) as batch_op:
        batch_op.create_index("ix_training_runs_status", ["status"], unique=False)

    op.create_table(
        "policies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("training_run_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("reward_model_id", sa.Uuid(), nullable=True),
        sa.Column("at_update", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("metrics", _JSON, nullable=False),
        sa.Column("evaluation", _JSON, nullable=False),
        sa.Column("good", sa.Boolean(), nullable=False),
        sa.Column("kept", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["policies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reward_model_id"],
            ["reward_models.id"],
        ),
        sa.ForeignKeyConstraint(
            ["training_run_id"],
            ["training_runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version"),
    )
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.create_index(
            "ux_policies_one_active",
            ["active"],
            unique=True,
            postgresql_where=sa.text("active"),
            sqlite_where=sa.text("active"),
        )

    op.create_table(
        "rollbacks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("training_run_id", sa.Uuid(), nullable=False),
        sa.Column("at_update", sa.Integer(), nullable=False),
        sa.Column("to_policy_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("metrics", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["to_policy_id"],
            ["policies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["training_run_id"],
            ["training_runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rollbacks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rollbacks_training_run_id"), ["training_run_id"], unique=False
        )

    op.create_table(
        "variation_sets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("parent_formula_id", sa.Uuid(), nullable=False),
        sa.Column("policy_id", sa.Uuid(), nullable=True),
        sa.Column("reward_model_id", sa.Uuid(), nullable=True),
        sa.Column("parent_offered", sa.Boolean(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_formula_id"],
            ["formulas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["policies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reward_model_id"],
            ["reward_models.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("variation_sets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_variation_sets_parent_formula_id"), ["parent_formula_id"], unique=False
        )

    op.create_table(
        "choices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("variation_set_id", sa.Uuid(), nullable=True),
        sa.Column("brief_id", sa.Uuid(), nullable=True),
        sa.Column("chosen_formula_id", sa.Uuid(), nullable=False),
        sa.Column("offered", _JSON, nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("user_ref", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(variation_set_id IS NULL) <> (brief_id IS NULL)", name="ck_choices_one_question"
        ),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="ck_choices_rating"),
        sa.ForeignKeyConstraint(
            ["brief_id"],
            ["briefs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["chosen_formula_id"],
            ["formulas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["variation_set_id"],
            ["variation_sets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brief_id"),
        sa.UniqueConstraint("variation_set_id"),
    )
    op.create_table(
        "variation_set_members",
        sa.Column("variation_set_id", sa.Uuid(), nullable=False),
        sa.Column("formula_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("action", _JSON, nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("uncertainty", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["formula_id"],
            ["formulas.id"],
        ),
        sa.ForeignKeyConstraint(["variation_set_id"], ["variation_sets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("variation_set_id", "formula_id"),
    )
    op.create_table(
        "preferences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("choice_id", sa.Uuid(), nullable=False),
        sa.Column("chosen_formula_id", sa.Uuid(), nullable=False),
        sa.Column("rejected_formula_id", sa.Uuid(), nullable=False),
        sa.Column("user_ref", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["choice_id"],
            ["choices.id"],
        ),
        sa.ForeignKeyConstraint(
            ["chosen_formula_id"],
            ["formulas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["rejected_formula_id"],
            ["formulas.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("preferences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_preferences_choice_id"), ["choice_id"], unique=False)
        batch_op.create_index("ix_preferences_created", ["created_at"], unique=False)


def downgrade() -> None:
    for table in (
        "preferences",
        "variation_set_members",
        "choices",
        "variation_sets",
        "rollbacks",
        "policies",
        "training_runs",
        "reward_models",
    ):
        op.drop_table(table)
    op.create_table(
        "training_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("config", _JSON, nullable=False),
        sa.Column("metrics", _JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("training_run_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("metrics", _JSON, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["training_run_id"],
            ["training_runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("chosen_formula_id", sa.Uuid(), nullable=False),
        sa.Column("rejected_formula_id", sa.Uuid(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chosen_formula_id"],
            ["formulas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["rejected_formula_id"],
            ["formulas.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )

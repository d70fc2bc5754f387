"""The tables. A job's row is the source of truth for its status: Redis only carries work."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite.
JsonDocument = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC when read back.

    PostgreSQL keeps the zone; SQLite drops it and returns naive values, which would make the
    API's timestamps differ between the two backends.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class JobStatus(StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"


class JobKind(StrEnum):
    DESIGN_FROM_BRIEF = "design_from_brief"
    TRAIN_POLICY = "train_policy"


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JsonDocument,
        list[Any]: JsonDocument,
    }


class Brief(Base):
    __tablename__ = "briefs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    text: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(16))
    requested_product: Mapped[str | None] = mapped_column(String(32))
    # Asked for on submitting; wins over any dosage the text names.
    requested_dosage_percent: Mapped[float | None] = mapped_column(Float)
    # Seeds the design search when given (the same brief designs the same options again);
    # the job's id seeds it otherwise.
    seed: Mapped[int | None] = mapped_column(BigInteger)
    # The validated CreativeBrief, filled in by the parsing step.
    parsed: Mapped[dict[str, Any] | None]
    parser: Mapped[str | None] = mapped_column(String(64))
    # How the LLM worker read it (fragrance_ai.llm.ensemble): modes, models, cache,
    # fallbacks and why, conflicts, seconds per role.
    reading: Mapped[dict[str, Any] | None]
    # What the models read after the design had started (fragrance_ai.llm.late_reading):
    # {"state": "reading" | "ready" | "failed", "fields": {...}, "roles": {...}}; None when
    # no model reads it late. Suggestions only: the design never read them.
    suggestions: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    formulas: Mapped[list[Formula]] = relationship(back_populates="brief")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_created", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    # The step the job is in (`parse_brief`, `design_formulas`, ...), for humans and retries.
    stage: Mapped[str | None] = mapped_column(String(64))
    brief_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("briefs.id"))
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Formula(Base):
    __tablename__ = "formulas"
    __table_args__ = (Index("ix_formulas_created", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    brief_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("briefs.id"), index=True)
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id"))
    # A variation points at the formula it was derived from.
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("formulas.id"))
    product: Mapped[str] = mapped_column(String(32))
    dosage_percent: Mapped[float] = mapped_column(Float)
    cost_per_kg_eur: Mapped[float] = mapped_column(Float)
    compliant: Mapped[bool] = mapped_column(Boolean)
    compliance: Mapped[dict[str, Any]]
    pyramid: Mapped[dict[str, Any]]
    rationale: Mapped[list[Any]]
    designer: Mapped[str] = mapped_column(String(64))
    # The optimiser's objective scores (brief fit, pyramid balance, cost, novelty), and the
    # search that found it (mode, seed, generation); None for formulas not from a search.
    scores: Mapped[dict[str, Any] | None]
    search: Mapped[dict[str, Any] | None]
    # Its place among the options its design job offered, best first: the options of one
    # job are stored in one commit and may share a timestamp.
    option_index: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    brief: Mapped[Brief | None] = relationship(back_populates="formulas")
    lines: Mapped[list[FormulaLine]] = relationship(
        back_populates="formula",
        order_by="FormulaLine.position",
        cascade="all, delete-orphan",
    )


class FormulaLine(Base):
    __tablename__ = "formula_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    formula_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("formulas.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    cas: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    tier: Mapped[str] = mapped_column(String(8))
    percent: Mapped[float] = mapped_column(Float)

    formula: Mapped[Formula] = relationship(back_populates="lines")


class VariationSet(Base):
    """Variations of one formula proposed together by one policy: one question to the
    perfumer, answered by one choice."""

    __tablename__ = "variation_sets"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    parent_formula_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("formulas.id"), index=True)
    # None: the initial (uniform) policy proposed them.
    policy_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("policies.id"))
    reward_model_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reward_models.id"))
    # Whether "keep the parent" was one of the answers offered.
    parent_offered: Mapped[bool] = mapped_column(Boolean, default=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    members: Mapped[list[VariationSetMember]] = relationship(
        order_by="VariationSetMember.position", cascade="all, delete-orphan"
    )


class VariationSetMember(Base):
    __tablename__ = "variation_set_members"

    variation_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("variation_sets.id", ondelete="CASCADE"), primary_key=True
    )
    formula_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("formulas.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    # The edit in a perfumer's words (operation, family, material, amounts).
    action: Mapped[dict[str, Any]]
    probability: Mapped[float] = mapped_column(Float)
    uncertainty: Mapped[float | None] = mapped_column(Float)


class Choice(Base):
    """A perfumer's answer to a variation set, or to a brief's options: the formula they
    preferred among those offered. Stored whole, so its answer can be replayed."""

    __tablename__ = "choices"
    __table_args__ = (
        CheckConstraint(
            "(variation_set_id IS NULL) <> (brief_id IS NULL)", name="ck_choices_one_question"
        ),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="ck_choices_rating"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    variation_set_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("variation_sets.id"), unique=True
    )
    brief_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("briefs.id"), unique=True)
    chosen_formula_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("formulas.id"))
    offered: Mapped[list[Any]]
    # How much the perfumer liked the chosen one, 1-5; None adds no signal.
    rating: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    user_ref: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Preference(Base):
    """One pairwise preference from a choice: `chosen` was preferred over `rejected`."""

    __tablename__ = "preferences"
    __table_args__ = (Index("ix_preferences_created", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    choice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("choices.id"), index=True)
    chosen_formula_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("formulas.id"))
    rejected_formula_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("formulas.id"))
    user_ref: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class RewardModel(Base):
    """A Bradley-Terry ensemble fitted on the preferences stored when it was trained."""

    __tablename__ = "reward_models"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    # The run that fitted it (no foreign key: runs point at their reward model).
    training_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # None: every perfumer's preferences; else one perfumer's.
    user_ref: Mapped[str | None] = mapped_column(String(128))
    preferences: Mapped[int] = mapped_column(Integer)
    # Share of held-out pairs it orders as the perfumer did; None with too few to hold out.
    heldout_accuracy: Mapped[float | None] = mapped_column(Float)
    heldout_pairs: Mapped[int] = mapped_column(Integer)
    members: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class TrainingRun(Base):
    __tablename__ = "training_runs"
    __table_args__ = (Index("ix_training_runs_status", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id"))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    stage: Mapped[str | None] = mapped_column(String(64))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    # manual (the API), cli, or auto (after every M new preferences).
    trigger: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(BigInteger)
    user_ref: Mapped[str | None] = mapped_column(String(128))
    # The hyperparameters it ran with (profile, overrides and fault drills included).
    config: Mapped[dict[str, Any]]
    # The policy active when it started: its starting weights, and the one to beat.
    # (No foreign key: policies point at the run that wrote them.)
    base_policy_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reward_model_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reward_models.id"))
    # One entry per PPO update: losses, entropy, approximate KL, clip fraction, reward.
    updates: Mapped[list[Any]] = mapped_column(default=list)
    metrics: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Policy(Base):
    """A policy checkpoint: its file on disk (atomic, hashed) and what it was measured at.
    Exactly one row may be active (a partial unique index); none active means the
    initial, uniform policy proposes variations."""

    __tablename__ = "policies"
    __table_args__ = (
        Index(
            "ux_policies_one_active",
            "active",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    training_run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("training_runs.id"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("policies.id"))
    reward_model_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reward_models.id"))
    at_update: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    # The training figures of the update it was written at.
    metrics: Mapped[dict[str, Any]]
    # Its proposals scored on held-out formulas (mean reward, brief fit, compliance).
    evaluation: Mapped[dict[str, Any]]
    # False when a rollback condition held at this update; never activated then.
    good: Mapped[bool] = mapped_column(Boolean, default=True)
    # False once its file was pruned (only the best and the last N are kept).
    kept: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Rollback(Base):
    __tablename__ = "rollbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    training_run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("training_runs.id"), index=True)
    at_update: Mapped[int] = mapped_column(Integer)
    # The last good checkpoint the weights went back to; None: back to the run's start.
    to_policy_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("policies.id"))
    reason: Mapped[str] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ApiKey(Base):
    """A key a client presents as `Authorization: Bearer fai_<id>_<secret>`; only the
    secret's SHA-256 is kept (fragrance_ai/security/keys.py says why that hash)."""

    __tablename__ = "api_keys"

    # Public: the middle part of the key, listed by `fragrance-ai keys list`.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # Written at most once a minute per key, so a busy key costs no write per request.
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class IdempotencyRecord(Base):
    """One Idempotency-Key of one principal: in flight while `status_code` is null, then the
    response it got, replayed to a retry until `expires_at`."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("principal", "idempotency_key", name="uq_idempotency_keys_principal_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # `key:<api key id>`, or `anonymous` where keys are optional.
    principal: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the method, path and body: the same key with another payload is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # Which request holds it while in flight; a request that finishes late after another
    # took over a stale claim must not overwrite that one's answer.
    claim: Mapped[uuid.UUID] = mapped_column(Uuid)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[list[Any] | None]
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)

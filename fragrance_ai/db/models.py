"""The tables. A job's row is the source of truth for its status: Redis only carries work."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    Uuid,
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
    # The validated CreativeBrief, filled in by the parsing step.
    parsed: Mapped[dict[str, Any] | None]
    parser: Mapped[str | None] = mapped_column(String(64))
    # How the LLM worker read it (fragrance_ai.llm.ensemble): modes, models, cache,
    # fallbacks and why, conflicts, seconds per role.
    reading: Mapped[dict[str, Any] | None]
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


class Feedback(Base):
    """A perfumer's pairwise choice: `chosen` was preferred over `rejected`."""

    __tablename__ = "feedback"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    chosen_formula_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("formulas.id"))
    rejected_formula_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("formulas.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class TrainingRun(Base):
    __tablename__ = "training_runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id"))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    config: Mapped[dict[str, Any]]
    metrics: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    checkpoints: Mapped[list[Checkpoint]] = relationship(back_populates="training_run")


class Checkpoint(Base):
    __tablename__ = "checkpoints"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    training_run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("training_runs.id"))
    step: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any] | None]
    # At most one active policy; the PPO issue enforces it when it switches.
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    training_run: Mapped[TrainingRun] = relationship(back_populates="checkpoints")

"""The HTTP API's request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fragrance_ai.db.models import JobStatus
from fragrance_ai.domain.products import ProductType
from fragrance_ai.settings import InferenceMode

MAX_BRIEF_CHARS = 4000


class BriefRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1,
        max_length=MAX_BRIEF_CHARS,
        description="The perfumer's creative brief in free text.",
        examples=["fresh citrus cologne for summer with a woody base"],
    )
    mode: InferenceMode | None = Field(
        None, description="fast, balanced or creative; the profile's default when omitted."
    )
    product: ProductType | None = Field(
        None, description="Overrides any product type the text names."
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("must contain more than whitespace")
        return text.strip()


class Links(BaseModel):
    self: str
    job: str | None = None
    brief: str | None = None


class JobAccepted(BaseModel):
    job_id: uuid.UUID
    brief_id: uuid.UUID
    status: JobStatus
    links: Links


class JobView(BaseModel):
    id: uuid.UUID
    kind: str
    status: JobStatus
    stage: str | None
    progress: float
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BriefView(BaseModel):
    id: uuid.UUID
    text: str
    mode: str
    requested_product: str | None
    parsed: dict[str, Any] | None
    parser: str | None
    formula_ids: list[uuid.UUID]
    created_at: datetime


class FormulaLineView(BaseModel):
    name: str
    cas: str
    tier: str
    percent: float = Field(description="Percent of the concentrate (the formula sums to 100).")


class FormulaSummary(BaseModel):
    id: uuid.UUID
    brief_id: uuid.UUID | None
    product: str
    dosage_percent: float = Field(description="Concentrate in the finished product, percent.")
    cost_per_kg_eur: float = Field(description="Cost of one kilogram of the concentrate, EUR.")
    compliant: bool
    created_at: datetime


class FormulaView(FormulaSummary):
    parent_id: uuid.UUID | None
    designer: str
    lines: list[FormulaLineView]
    pyramid: dict[str, float] = Field(description="Share of the concentrate per tier, percent.")
    compliance: dict[str, Any]
    rationale: list[str]


class FormulaPage(BaseModel):
    items: list[FormulaSummary]
    total: int
    limit: int
    offset: int


class IngredientView(BaseModel):
    name: str
    synonyms: list[str]
    cas: str
    tier: str
    families: list[str]
    descriptors: list[str]
    typical_use_percent: tuple[float, float]
    price_per_kg_eur: float
    price_source: str
    natural: bool
    ifra: list[dict[str, Any]]

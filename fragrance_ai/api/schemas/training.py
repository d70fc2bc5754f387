"""Request and response bodies of learning from choices: variations, feedback, training runs
and policies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from fragrance_ai.api.request_types import MAX_SEED, NotBlank, not_a_bool
from fragrance_ai.api.schemas.design import FormulaLineView, Links
from fragrance_ai.db.models import JobStatus
from fragrance_ai.training.start import MAX_RUN_SEED

MAX_NOTE_CHARS = 2000
MAX_USER_CHARS = 128

# Who gave a choice, or whose choices to train on.
UserRef = Annotated[str, StringConstraints(max_length=MAX_USER_CHARS), NotBlank()]


class Problem(BaseModel):
    """An error answer, as FastAPI writes an HTTPException."""

    detail: str = Field(description="What went wrong, in words.")


class VariationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(
        3,
        ge=1,
        # The document states the configured rl.max_variations as the maximum
        # (fragrance_ai/api/openapi/document.py); 32 is the most that setting allows.
        le=32,
        description="Variations wanted, at most the configured rl.max_variations.",
    )
    include_parent: bool = Field(
        True, description="Offer 'keep the formula as it is' as one of the answers."
    )
    seed: int | None = Field(
        None,
        ge=0,
        le=MAX_SEED,
        description="Draws the same variations again for the same formula and models; one is "
        "drawn and returned when omitted.",
    )
    user: UserRef | None = Field(
        None,
        description="Ask with this perfumer's own reward model, refitted on their choices; "
        "every perfumer's when they have none yet.",
    )

    _numbers = field_validator("n", "seed", mode="before")(not_a_bool)


class ModelRef(BaseModel):
    id: uuid.UUID
    version: int


class VariationView(BaseModel):
    formula_id: uuid.UUID
    action: dict[str, Any] = Field(
        description="The edit: action, operation, family, material and amounts (percent)."
    )
    probability: float = Field(description="The policy's probability of the edit.")
    uncertainty: float | None = Field(
        description="The reward ensemble's disagreement on it; null without a reward model."
    )
    repair_moved_percent: float = Field(
        description="Share of the concentrate the repair moved to make it compliant."
    )
    cost_per_kg_eur: float
    compliant: bool
    verdict: str
    pyramid: dict[str, float]
    lines: list[FormulaLineView]


class VariationSetView(BaseModel):
    variation_set_id: uuid.UUID
    parent_id: uuid.UUID
    parent_offered: bool
    policy: ModelRef | None = Field(description="The policy that proposed; null: the initial one.")
    reward_model: ModelRef | None = Field(
        description="The reward model that steered exploration; null: none."
    )
    seed: int
    variations: list[VariationView]
    warnings: list[str] = Field(
        default_factory=list,
        description="Models that should have served but could not (the answer says which "
        "were used instead).",
    )
    chosen_id: uuid.UUID | None = Field(None, description="The perfumer's choice, once made.")
    created_at: datetime


class FeedbackRequest(BaseModel):
    # _one_question, as the schema says it: exactly one of the two ids is given.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["variation_set_id"],
                    "properties": {"variation_set_id": {"type": "string"}},
                },
                {"required": ["brief_id"], "properties": {"brief_id": {"type": "string"}}},
            ]
        },
    )

    variation_set_id: uuid.UUID | None = Field(
        None, description="The variation set answered; or give brief_id."
    )
    brief_id: uuid.UUID | None = Field(None, description="The brief whose options were answered.")
    chosen_id: uuid.UUID = Field(description="The formula preferred among those offered.")
    rating: int | None = Field(None, ge=1, le=5, description="How much it was liked, 1-5.")
    note: str | None = Field(None, max_length=MAX_NOTE_CHARS)
    user: UserRef | None = None

    _numbers = field_validator("rating", mode="before")(not_a_bool)

    @model_validator(mode="after")
    def _one_question(self) -> FeedbackRequest:
        if (self.variation_set_id is None) == (self.brief_id is None):
            raise ValueError("give exactly one of variation_set_id and brief_id")
        return self


class TrainingRunRef(BaseModel):
    id: uuid.UUID
    status: JobStatus


class FeedbackAnswer(BaseModel):
    choice_id: uuid.UUID
    chosen_id: uuid.UUID
    rejected_ids: list[uuid.UUID]
    preferences_stored: int
    rating: int | None
    training_run: TrainingRunRef | None = Field(
        description="The training run this choice started (its status now), if any."
    )


class DrillRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The bounds of FaultDrillSettings, which the run's configuration is checked against.
    lr_spike_at_update: int = Field(ge=1, le=100_000)
    lr_spike_factor: float = Field(gt=1)

    _numbers = field_validator("lr_spike_at_update", "lr_spike_factor", mode="before")(not_a_bool)


class TrainingRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int | None = Field(None, ge=0, le=MAX_RUN_SEED, description="Drawn when omitted.")
    user: UserRef | None = Field(None, description="Train on this perfumer's preferences only.")
    total_updates: int | None = Field(None, ge=1, le=100_000)
    drill: DrillRequest | None = Field(
        None, description="Multiply the learning rate at one update, to rehearse a rollback."
    )

    _numbers = field_validator("seed", "total_updates", mode="before")(not_a_bool)


class TrainingRunAccepted(BaseModel):
    training_run_id: uuid.UUID
    job_id: uuid.UUID
    status: JobStatus
    links: Links


class RewardModelView(BaseModel):
    id: uuid.UUID
    version: int
    heldout_accuracy: float | None
    heldout_pairs: int
    preferences: int


class RunPolicyView(BaseModel):
    id: uuid.UUID
    version: int
    at_update: int
    good: bool
    kept: bool
    active: bool
    evaluation: dict[str, Any]


class RollbackView(BaseModel):
    at_update: int
    reason: str
    to_policy_id: uuid.UUID | None
    metrics: dict[str, Any]
    created_at: datetime


class TrainingRunSummary(BaseModel):
    id: uuid.UUID
    job_id: uuid.UUID | None
    status: JobStatus
    stage: str | None
    progress: float
    trigger: str
    seed: int
    user: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TrainingRunView(TrainingRunSummary):
    config: dict[str, Any]
    base_policy_id: uuid.UUID | None
    updates: list[Any] = Field(description="One entry per PPO update.")
    metrics: dict[str, Any] | None
    reward_model: RewardModelView | None
    policies: list[RunPolicyView]
    rollbacks: list[RollbackView]


class TrainingRunPage(BaseModel):
    items: list[TrainingRunSummary]
    total: int
    limit: int
    offset: int
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


class PolicyView(BaseModel):
    id: uuid.UUID
    version: int
    training_run_id: uuid.UUID
    parent_id: uuid.UUID | None
    reward_model_id: uuid.UUID | None
    at_update: int
    sha256: str = Field(description="Hash of the checkpoint file, checked before every load.")
    evaluation: dict[str, Any]
    metrics: dict[str, Any]
    good: bool
    kept: bool = Field(description="False once its file was pruned: it cannot be activated.")
    active: bool
    created_at: datetime
    activated_at: datetime | None


class PolicyList(BaseModel):
    active: ModelRef | None = Field(description="null: the initial, uniform policy serves.")
    policies: list[PolicyView]


class ActivePolicy(BaseModel):
    active: ModelRef | None = Field(description="null: the initial, uniform policy serves.")
    previous: ModelRef | None


class TasteTermView(BaseModel):
    feature: str = Field(description="The reward feature, e.g. share:family:woody.")
    words: str = Field(description="The feature in words, e.g. 'woody (family)'.")
    direction: Literal["more", "less"]


class TasteReadingView(BaseModel):
    words: str = Field(description="The reading in words, e.g. 'more woody (family), less sweet'.")
    probability: float = Field(description="Its posterior probability.")
    terms: list[TasteTermView] = Field(
        description="Empty for the reading that needs many features at once."
    )


class TasteView(BaseModel):
    user: str | None
    whose: Literal["own", "everyone", "none"] = Field(
        description="Whose reward model asks this perfumer: their own, every perfumer's, "
        "or none yet."
    )
    reward_model: ModelRef | None
    preferences: int
    choices: int
    heldout_accuracy: float | None
    readings: list[TasteReadingView] = Field(
        description="The most probable readings of the taste, most probable first."
    )
    confident: bool
    confident_at: float = Field(description="The probability one reading needs.")
    more_choices: int | None = Field(
        description="About how many more choices until it is confident, at the rate the "
        "choices have taught so far; null when there is no rate to go by."
    )

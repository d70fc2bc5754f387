"""The HTTP API's request and response bodies."""

from __future__ import annotations

import uuid
from datetime import date, datetime
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
from fragrance_ai.db.models import JobKind, JobStatus
from fragrance_ai.domain.brief import Intensity
from fragrance_ai.domain.catalogue import Tier
from fragrance_ai.domain.compliance import ComplianceReport
from fragrance_ai.domain.products import ProductType
from fragrance_ai.jobs.results import BriefJobResult, TrainingJobResult
from fragrance_ai.settings import RequestedMode

MAX_BRIEF_CHARS = 4000
# The engine's rules are dated from the IFRA 49th Amendment (2020) on; an earlier date would
# read today's rules as if they had bound then.
EARLIEST_AS_OF = date(2020, 1, 1)


# Measured as sent, then stripped: the schema's maxLength and the server agree.
ShortWord = Annotated[str, StringConstraints(min_length=1, max_length=80), NotBlank()]


class BriefCorrection(BaseModel):
    """What the parser understood, as the perfumer corrected it on the workbench. Designed
    from as given: the text is not read again."""

    model_config = ConfigDict(extra="forbid")

    families: list[ShortWord] = Field(default_factory=list, max_length=12)
    notes: list[ShortWord] = Field(
        default_factory=list,
        max_length=40,
        description="Materials (catalogue names, synonyms or CAS) or note words; one no "
        "material matches is kept as an unmatched note.",
    )
    moods: list[ShortWord] = Field(default_factory=list, max_length=12)
    seasons: list[ShortWord] = Field(default_factory=list, max_length=4)
    avoid: list[ShortWord] = Field(default_factory=list, max_length=40)
    evocations: list[ShortWord] = Field(
        default_factory=list,
        max_length=24,
        description="Evocation ids (scenes, textures, perfumes, moods) kept from the reading "
        "or added; each brings its structure, accepted odour classes and soft materials.",
    )
    intensity: Intensity = Intensity.MODERATE
    dosage_percent: float | None = Field(None, gt=0, le=40)
    budget_per_kg_eur: float | None = Field(None, gt=0, le=1_000_000)
    longevity_hours: float | None = Field(None, gt=0, le=72)

    _numbers = field_validator(
        "dosage_percent", "budget_per_kg_eur", "longevity_hours", mode="before"
    )(not_a_bool)


class BriefRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, StringConstraints(max_length=MAX_BRIEF_CHARS), NotBlank()] = Field(
        description="The perfumer's creative brief in free text (more than whitespace).",
        examples=["fresh citrus cologne for summer with a woody base"],
    )
    mode: RequestedMode | None = Field(
        None,
        description="fast, balanced, creative, or auto (picked from the text); the profile's "
        "default when omitted.",
    )
    product: ProductType | None = Field(
        None, description="Overrides any product type the text names."
    )
    dosage_percent: float | None = Field(
        None,
        gt=0,
        le=40,
        description="Concentrate in the finished product, percent; overrides any dosage the "
        "text names (the product's usual dosage when neither does).",
    )
    corrected: BriefCorrection | None = Field(
        None,
        description="The parsed brief as the perfumer corrected it: designed from directly, "
        "without reading the text again (the vocabulary: GET /v1/briefs/vocabulary).",
    )
    revises: uuid.UUID | None = Field(
        None, description="The brief this one corrects, kept in its history."
    )
    seed: int | None = Field(
        None,
        ge=0,
        le=MAX_SEED,
        description="Seeds the design search: the same brief with the same seed and models "
        "designs the same options again. Drawn from the job when omitted.",
    )

    _numbers = field_validator("dosage_percent", "seed", mode="before")(not_a_bool)


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
    kind: JobKind
    status: JobStatus
    stage: str | None
    progress: float
    result: BriefJobResult | TrainingJobResult | None = Field(
        description="set when the job has finished: a design_from_brief job's options (or "
        "what its brief needs), a train_policy job's run"
    )
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
    requested_dosage_percent: float | None = None
    seed: int | None = Field(None, description="The design search's seed, when one was given.")
    parsed: dict[str, Any] | None
    parser: str | None
    reading: dict[str, Any] | None = Field(
        None,
        description="How the LLM worker read the brief: the mode asked and used, each role's "
        "model, outcome, fallback and seconds, cache, conflicts with the text.",
    )
    formula_ids: list[uuid.UUID]
    options: list[BriefOption] = Field(
        description="Every formula designed for this brief, with its scores, oldest first."
    )
    rounds: list[BriefRound] = Field(
        default_factory=list,
        description="The brief's history: its options, then each set of variations asked "
        "for, oldest first, each with the choice made.",
    )
    revises: uuid.UUID | None = Field(None, description="The brief this one corrects.")
    suggestions: dict[str, Any] | None = Field(
        None,
        description="What readers no design waited for found after it had started: "
        "`state` reading, ready or failed; `fields` (families, moods, seasons, intensity, "
        "notes, evocations, hints) the reading does not hold; each reader's path. The design "
        "read none of it: accept a suggestion by correcting the brief. Null when no reader "
        "reads it late.",
    )
    created_at: datetime


class BriefRound(BaseModel):
    kind: Literal["options", "variations"]
    variation_set_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = Field(None, description="The formula varied.")
    formula_ids: list[uuid.UUID]
    chosen_id: uuid.UUID | None
    created_at: datetime


class BriefVocabulary(BaseModel):
    families: list[str]
    moods: list[str]
    seasons: list[str]
    intensities: list[str]
    evocations: list[str]


class FormulaLineView(BaseModel):
    name: str
    cas: str
    tier: str
    percent: float = Field(
        description="Percent of the concentrate, the material neat (the formula sums to 100)."
    )
    per_mille: float = Field(
        description="Parts per thousand of the concentrate, neat (‰, the unit perfumers "
        "formulate in): 10 times percent."
    )
    descriptors: list[str] = Field(
        default_factory=list,
        description="The material's odour in a few words (the catalogue's descriptors); "
        "empty for a material the catalogue lacks.",
    )
    working_dilution_percent: float = Field(
        100,
        description="The dilution the material is weighed at, percent of it in its diluent: "
        "100 neat; 10, 1 or 0.1 for powerful materials.",
    )
    diluent: str | None = Field(
        None,
        description="The dilution's solvent: DPG (dipropylene glycol, the usual perfumery "
        "diluent), or ethanol for a product made up in perfumer's alcohol; null when neat.",
    )
    weighed_as: str = Field(
        "",
        description="The material as it is weighed: 'Isobutyl quinoline 1 % in DPG', or the "
        "name when neat.",
    )
    percent_as_weighed: float = Field(
        description="Percent of the concentrate's weight to weigh of the dilution: percent "
        "times 100 over working_dilution_percent ('1 % in DPG: 20.00 % (= 0.20 % neat)'); "
        "equal to percent when neat."
    )


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
    designer: str = Field(description="What produced it: nsga2 (the search) or rule_based.")
    lines: list[FormulaLineView]
    pyramid: dict[str, float] = Field(description="Share of the concentrate per tier, percent.")
    compliance: dict[str, Any]
    rationale: list[str]
    scores: dict[str, float] | None = Field(
        None,
        description="The search's objective scores: brief_fit, pyramid_balance and novelty "
        "in [0, 1], cost_per_kg_eur.",
    )
    search: dict[str, Any] | None = Field(
        None, description="The search that found it: mode, seed, generation."
    )


class BriefOption(BaseModel):
    formula_id: uuid.UUID
    parent_id: uuid.UUID | None = Field(None, description="Set on a variation: its parent.")
    designer: str
    cost_per_kg_eur: float
    compliant: bool
    scores: dict[str, float] | None


class FormulaPage(BaseModel):
    items: list[FormulaSummary]
    total: int
    limit: int
    offset: int
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


PERCENT_SUM_TOLERANCE = 0.01


class ConstituentView(BaseModel):
    substance: str
    cas: str
    percent: float = Field(description="Typical mass fraction in the material, percent.")
    source: str
    uncertain: bool


class RegulatedSubstanceView(BaseModel):
    id: str
    name: str
    cas: list[str]
    percent_in_material: float
    ifra_standard: str | None
    ifra_limits: list[dict[str, Any]] = Field(
        description="Per IFRA category: percent of the finished product, with its source, "
        "amendment and flags (unrestricted, unreadable = no usable figure)."
    )
    ifra_no_figure_found: str = Field(description="What was searched where no figure exists.")
    phototoxic: bool
    eu_rules: list[dict[str, Any]]
    cmr: dict[str, Any] | None
    eu_allergen_inci: str | None


class IngredientSummaryView(BaseModel):
    name: str
    synonyms: list[str]
    cas: str
    tier: str
    families: list[str]
    descriptors: list[str]
    price_per_kg_eur: float
    natural: bool


class IngredientView(BaseModel):
    name: str
    synonyms: list[str]
    cas: str
    tier: str
    volatility: str
    families: list[str]
    descriptors: list[str]
    typical_use_percent: tuple[float, float] = Field(
        description="Typical use range in the concentrate, percent (min, max)."
    )
    price_per_kg_eur: float
    price_source: str
    natural: bool
    ifra: list[dict[str, Any]] = Field(
        description="IFRA limits of the material itself, percent of the finished product."
    )
    constituents: list[ConstituentView]
    eu_allergens: list[str] = Field(
        description="EU labelling allergens the material is or contains."
    )
    regulated_substances: list[RegulatedSubstanceView] = Field(
        description="Every regulated substance the material is or contains, with its rules."
    )
    note: str


class DeclaredConstituent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cas: str = Field(min_length=5, max_length=12, examples=["78-70-6"])
    percent: float = Field(gt=0, le=100, description="Mass fraction in the material, percent.")

    _numbers = field_validator("percent", mode="before")(not_a_bool)


class CheckLine(BaseModel):
    # _names_a_material, as the schema says it.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["name"], "properties": {"name": {"type": "string"}}},
                {"required": ["cas"], "properties": {"cas": {"type": "string"}}},
            ]
        },
    )

    name: Annotated[str, StringConstraints(max_length=200), NotBlank()] | None = Field(
        None, examples=["Bergamot oil"]
    )
    cas: str | None = Field(None, min_length=5, max_length=12, examples=["8007-75-8"])
    percent: float = Field(gt=0, le=100, description="Percent of the concentrate.")
    composition: list[DeclaredConstituent] | Literal["none_known"] | None = Field(
        None,
        description="For a material the catalogue lacks: its regulated constituents (CAS "
        "and percent), or 'none_known'. Without it such a line makes the verdict "
        "cannot_certify; the other lines are still checked.",
    )
    tier: Tier | None = Field(None, description="For a material the catalogue lacks.")

    _numbers = field_validator("percent", mode="before")(not_a_bool)

    @field_validator("composition")
    @classmethod
    def _composition_adds_up(
        cls, composition: list[DeclaredConstituent] | str | None
    ) -> list[DeclaredConstituent] | str | None:
        if isinstance(composition, list):
            total = sum(c.percent for c in composition)
            if total > 100 + PERCENT_SUM_TOLERANCE:
                raise ValueError(f"constituents add up to {total:g} %, more than 100")
            if len({c.cas.strip() for c in composition}) != len(composition):
                raise ValueError("a constituent CAS is given twice")
        return composition

    @model_validator(mode="after")
    def _names_a_material(self) -> CheckLine:
        if self.name is None and self.cas is None:
            raise ValueError("give the material's name or its CAS number")
        return self


class FormulaCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(
        None, max_length=200, description="A name for the formula on printed documents."
    )
    lines: list[CheckLine] = Field(min_length=1, max_length=200)
    product: ProductType
    dosage_percent: float | None = Field(
        None,
        gt=0,
        le=100,
        description="Concentrate in the finished product, percent; the product's usual "
        "dosage when omitted.",
    )
    repair: bool = Field(False, description="Also return the nearest compliant formula.")
    as_of: date | None = Field(
        None,
        description="The date the rules are read for (a new product placed on the market "
        "that day), today when omitted. A rule adopted to bind within 12 months of it is "
        "reported under compliance.upcoming_violations.",
        examples=["2027-01-01"],
    )

    _numbers = field_validator("dosage_percent", mode="before")(not_a_bool)

    @field_validator("as_of")
    @classmethod
    def _after_2020(cls, as_of: date | None) -> date | None:
        if as_of is not None and as_of < EARLIEST_AS_OF:
            raise ValueError(
                f"the rules are known from {EARLIEST_AS_OF.isoformat()} on; "
                f"{as_of.isoformat()} is earlier"
            )
        return as_of

    @field_validator("lines")
    @classmethod
    def _sums_to_100(cls, lines: list[CheckLine]) -> list[CheckLine]:
        total = sum(line.percent for line in lines)
        if abs(total - 100) > PERCENT_SUM_TOLERANCE:
            raise ValueError(
                f"percentages of the concentrate add up to {total:g}, not 100 "
                f"(± {PERCENT_SUM_TOLERANCE})"
            )
        return lines


class RepairChangeView(BaseModel):
    name: str
    cas: str
    tier: str
    before_percent: float
    after_percent: float


class RepairView(BaseModel):
    feasible: bool
    lines: list[FormulaLineView] | None = Field(
        description="The repaired formula, percent of the concentrate; null when infeasible."
    )
    changes: list[RepairChangeView]
    reasons: list[str]
    moved_percent: float = Field(description="Share of the concentrate moved, percent.")
    cost_per_kg_eur: float | None
    pyramid: dict[str, float] | None
    compliance: ComplianceReport


class FormulaCheckResponse(BaseModel):
    product: ProductType
    dosage_percent: float
    ifra_category: str
    lines: list[FormulaLineView]
    cost_per_kg_eur: float = Field(description="Cost of one kilogram of the concentrate, EUR.")
    pyramid: dict[str, float] = Field(description="Share of the concentrate per tier, percent.")
    compliance: ComplianceReport
    allergens_to_declare: list[str] = Field(
        description="EU label: allergens above 0.001 % (leave-on) or 0.01 % (rinse-off)."
    )
    repair: RepairView | None = None


class WeighOutLineView(BaseModel):
    step: int = Field(description="Weighing order, from 1.")
    name: str
    cas: str
    tier: str
    percent_of_concentrate: float = Field(description="The material neat, percent.")
    grams: float = Field(
        description="To weigh, to the milligram: of the stock dilution for a material "
        "weighed diluted (weighed_as), else of the material."
    )
    running_total_g: float = Field(description="What the balance reads after this step.")
    neat_grams: float = Field(
        description="The material itself in `grams`, to the milligram; the lines' neat_grams "
        "sum to exactly concentrate_g."
    )
    working_dilution_percent: float = Field(
        description="The material's share of what is weighed, percent; 100: neat."
    )
    diluent: str | None = Field(
        description="The dilution's solvent (dipropylene glycol, or ethanol in a product "
        "made up in perfumer's alcohol); null when weighed neat."
    )
    weighed_as: str = Field(
        description="What to take from the shelf: 'Vanillin 10 % in ethanol', or the name."
    )


class SolventView(BaseModel):
    name: str = Field(
        description="The product base's carrier: perfumer's alcohol for EDC to parfum and "
        "other alcohol-based products, else the base itself (the lotion, the candle wax ...)."
    )
    grams: float = Field(
        description="Added last: the batch less what the lines weighed (the concentrate and "
        "the dilutions' solvent); 0 for the neat concentrate (dilution 100 %)."
    )


class DiluentView(BaseModel):
    name: str
    grams: float = Field(
        description="Brought in by the stock dilutions: part of the batch's solvent."
    )


class WeighOutView(BaseModel):
    formula_id: uuid.UUID
    batch_g: float = Field(description="Finished product to make, grams.")
    dilution_percent: float = Field(description="Concentrate in the batch, percent.")
    concentrate_g: float = Field(
        description="The neat materials: the lines' neat_grams sum to exactly this."
    )
    solvent: SolventView
    lines: list[WeighOutLineView] = Field(
        description="In weighing order; their grams and the solvent's sum to exactly total_g."
    )
    total_g: float = Field(description="What is weighed, lines and solvent: the batch.")
    order: str = Field(description="The weighing order's rule, in words.")
    diluents: list[DiluentView] = Field(
        description="The solvent the stock dilutions brought, per solvent: concentrate_g, "
        "these and the solvent make the batch."
    )
    notes: list[str] = Field(
        description="What the sheet could not do as usual, e.g. materials weighed neat "
        "because their dilutions' solvent would not fit in the batch."
    )

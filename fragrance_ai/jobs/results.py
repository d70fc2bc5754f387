"""What each kind of job leaves as its result: written by the job's step, stored as JSON in
the job's row, and read back by `GET /v1/jobs/{id}`, whose OpenAPI schema is these models.

Rows written by earlier releases validate too: every field added since 0.2.0 has a default,
and the training result keeps any run metric it does not name (`extra="allow"`).
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fragrance_ai.db.models import JobKind
from fragrance_ai.domain.brief import CreativeBrief


class DesignedOption(BaseModel):
    """One option of a brief, in the order the perfumer is shown them."""

    formula_id: uuid.UUID
    produced_by: str = Field(description="the search (nsga2) or the rule-based designer")
    scores: dict[str, float] | None = Field(
        description="the option's objective scores (brief_fit, pyramid, cost, novelty)"
    )
    generation: int | None = Field(description="the search generation that found it")


class SearchGeneration(BaseModel):
    generation: int
    evaluations: int
    feasible: int
    hypervolume: float
    best: dict[str, float]
    mean: dict[str, float]


class SearchRecord(BaseModel):
    """How the options were searched for: enough to repeat the search exactly."""

    mode: str
    seed: int
    population: int
    objectives: list[str]
    evaluations: int
    generations: list[SearchGeneration]
    unmet: list[str] = Field(description="what the brief asked that no option could meet")
    structure: str | None = Field(
        default=None, description="the classic structure the options are built on, and its idea"
    )
    left_out: list[str] = Field(
        default_factory=list,
        description="materials kept out of the search for this brief, each with the reason "
        "(a clash class it did not ask for, a nitro musk, too dear for the product)",
    )


class BriefJobResult(BaseModel):
    """A design-from-brief job: the options designed, or, for a text that reads as no brief
    (`brief_understood` false), what a brief needs (`needs`) and no options."""

    brief_id: uuid.UUID
    brief_understood: bool
    formula_ids: list[uuid.UUID]
    needs: str | None = Field(default=None, description="set when the brief was not understood")
    options: list[DesignedOption] | None = None
    search: SearchRecord | None = None
    defaults_used: list[str] | None = None
    unmatched_notes: list[str] | None = Field(
        default=None, description="notes the text asks for that no catalogue material matches"
    )
    hints: list[str] | None = None
    evocations: list[str] | None = Field(
        default=None,
        description="evocations read in the text (scenes, textures, perfumes, moods): ids of "
        "the evocation library, shown as what was read",
    )
    unread_words: list[str] | None = Field(
        default=None, description="content words of the text that nothing read or matched"
    )
    parser: str | None = None
    reading: dict[str, Any] | None = Field(
        description="how the brief was read: models, timings, fallbacks"
    )
    reading_notes: list[str] | None = Field(
        default=None,
        description="in plain words, what the reading did not do as asked: a mode read in a "
        "cheaper one (the design still searched as asked), a model role that fell back",
    )


ASK_FOR_DIRECTION = (
    "Say what it should smell like: families (citrus, woody, floral ...), notes or materials "
    "(bergamot, vetiver), a mood (cosy, serene), a scene or a perfume it should recall (a "
    "campfire, like Shalimar), in English or Korean."
)


def needs_direction(brief: CreativeBrief) -> str:
    """What a job tells the perfumer whose text gives no olfactive direction: what was read,
    what was not, and what a brief needs. Nothing is designed from a guess."""
    read: list[str] = []
    if "product" not in brief.defaults_used:
        read.append(f"the product ({brief.product.value})")
    if "intensity" not in brief.defaults_used:
        read.append(f"the intensity ({brief.intensity.value})")
    if brief.budget_per_kg_eur is not None:
        read.append(f"a budget of {brief.budget_per_kg_eur:g} EUR/kg")
    if brief.dosage_percent is not None and "dosage_percent" not in brief.defaults_used:
        read.append(f"a dosage of {brief.dosage_percent:g} %")
    if brief.longevity_hours is not None:
        read.append(f"a wear of {brief.longevity_hours:g} hours")
    if brief.avoid:
        read.append("what to leave out (" + ", ".join(brief.avoid) + ")")
    unread = (
        " Not read: " + ", ".join(f"'{word}'" for word in brief.unread_words) + "."
        if brief.unread_words
        else ""
    )
    if not read:
        return f"Nothing in the text reads as a fragrance brief.{unread} {ASK_FOR_DIRECTION}"
    return (
        "Read " + "; ".join(read) + ", but nothing says what it should smell like, so no "
        f"formula was designed from a guess.{unread} {ASK_FOR_DIRECTION}"
    )


def reading_notes(reading: dict[str, Any] | None, *, design_mode: str) -> list[str]:
    """What a perfumer should know about how their brief was read, from the reading path."""
    if not reading:
        return []
    notes = []
    asked = reading.get("downshifted_from")
    if asked:
        notes.append(
            f"Read in {reading.get('mode')} mode instead of {asked}: the {asked} models were "
            f"failing or slow. The design searched in {design_mode} mode, as asked."
        )
    later: list[str] = []
    for role, entry in (reading.get("roles") or {}).items():
        if not isinstance(entry, dict):
            continue
        name = role.replace("_", " ")
        if entry.get("fallback"):
            detail = f": {entry['detail']}" if entry.get("detail") else ""
            notes.append(
                f"The {name} model did not contribute ({entry['fallback']}"
                f"{detail}); the deterministic reading stands in its place."
            )
        elif entry.get("outcome") == "after_design":
            later.append(f"the {name} model ({entry.get('why')})")
        elif entry.get("outcome") == "skipped":
            notes.append(f"The {name} model did not read this brief ({entry.get('why')}).")
    paraphrases = reading.get("paraphrases") or {}
    if paraphrases.get("outcome") == "after_design":
        later.insert(0, f"the paraphrase matcher ({paraphrases.get('why')})")
    elif paraphrases.get("outcome") == "skipped":
        notes.append(f"The paraphrase matcher did not read this brief ({paraphrases.get('why')}).")
    if later:
        whose = "its" if len(later) == 1 else "their"
        notes.append(
            f"Designed without waiting for {', '.join(later)}: {whose} reading is shown with "
            "the brief as suggestions, to accept or leave."
        )
    return notes


class TrainingJobResult(BaseModel):
    """A training job: its run (GET /v1/training-runs/{id} has the whole record) and the
    run's summary metrics."""

    model_config = ConfigDict(extra="allow")

    training_run_id: uuid.UUID
    updates: int | None = None
    rollbacks: int | None = None
    decision: str | None = None
    activated_policy_id: uuid.UUID | None = None
    best_policy_id: str | None = None
    base_evaluation: dict[str, float] | None = None
    best_evaluation: dict[str, float] | None = None
    reward_model: dict[str, Any] | None = None
    starts: dict[str, int] | None = None


JobResult = BriefJobResult | TrainingJobResult


def stored(result: JobResult) -> dict[str, Any]:
    """The JSON a job's row keeps: only the fields the step set, as earlier releases did."""
    return result.model_dump(mode="json", exclude_unset=True)


def read_stored(kind: str, stored_result: dict[str, Any] | None) -> JobResult | None:
    """A row's result as the model of its job's kind."""
    if stored_result is None:
        return None
    model = TrainingJobResult if kind == JobKind.TRAIN_POLICY.value else BriefJobResult
    return model.model_validate(stored_result)

"""The structured creative brief every designer works from."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from fragrance_ai.domain.products import ProductType


class Intensity(StrEnum):
    LIGHT = "light"
    MODERATE = "moderate"
    STRONG = "strong"


class CreativeBrief(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    families: list[str] = Field(default_factory=list)
    # Catalogue material names (canonical) or plain note words.
    notes: list[str] = Field(default_factory=list)
    # Notes the text asks for that the catalogue has no material for (fig leaf, sea salt):
    # kept and reported, never silently dropped.
    unmatched_notes: list[str] = Field(default_factory=list)
    moods: list[str] = Field(default_factory=list)
    seasons: list[str] = Field(default_factory=list)
    intensity: Intensity = Intensity.MODERATE
    product: ProductType = ProductType.EDP
    # None: use the product's default dosage.
    dosage_percent: float | None = Field(default=None, gt=0, le=40)
    budget_per_kg_eur: float | None = Field(default=None, gt=0, le=1_000_000)
    avoid: list[str] = Field(default_factory=list)
    longevity_hours: float | None = Field(default=None, gt=0, le=72)
    language: str = Field(default="en", min_length=2, max_length=8)
    # False when nothing in the text was recognised and every field is a default.
    understood: bool = True
    defaults_used: list[str] = Field(default_factory=list)
    # The creative-hints role's short suggestions, and the catalogue materials they name:
    # soft preferences for the optimiser (pulled towards, never required).
    hints: list[str] = Field(default_factory=list)
    preferred_notes: list[str] = Field(default_factory=list)
    # Evocations read in the text (scenes, textures, references, moods: ids of
    # data/perfumery/evocations.yaml), shown to the perfumer as what was read.
    evocations: list[str] = Field(default_factory=list)
    # Those of them read from a paraphrase by the sentence model rather than from the text's
    # own words: suggestions, which never name the structure or make a material a must.
    paraphrased_evocations: list[str] = Field(default_factory=list)
    # Moods read as a word that colours a note ("clean musk", "warm vanilla"): their families
    # and materials come in as preferences, but they name no structure and make no material
    # a must (the note they colour is read on its own).
    qualifying_evocations: list[str] = Field(default_factory=list)
    # Named notes the text asks for only as a touch ("a hint of rose", "a little muguet"):
    # carried like any named note, but they do not choose the structure.
    accent_notes: list[str] = Field(default_factory=list)
    # A classic structure the text names or references (an id of data/perfumery/structures.yaml);
    # None: the design picks the one its families suggest.
    structure: str | None = None
    # Clash classes the brief asks for ("smoky" campfire, "minty" fougere): not vetoed.
    accepted_clashes: list[str] = Field(default_factory=list)
    # Words of the text that were neither read nor matched to anything, so nothing vanishes.
    unread_words: list[str] = Field(default_factory=list)

"""What each role's model is asked to write, as JSON schemas the decoder enforces, and the
pydantic records the guard validates against. Closed vocabularies (families, moods, seasons,
intensity) are enums in the schema, so even a small model can only name values we know."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fragrance_ai.domain.families import FAMILY_WORDS
from fragrance_ai.domain.parser import MOOD_WORDS, SEASON_WORDS

FAMILIES = sorted(FAMILY_WORDS)
MOODS = sorted(MOOD_WORDS)
SEASONS = sorted(SEASON_WORDS)
INTENSITIES = ["light", "moderate", "strong"]
MAX_NOTE_CHARS = 32
MAX_HINT_CHARS = 80


class ModelReading(BaseModel):
    """The parser role's reading of a brief: what needs reading, not what the text spells
    out (numbers, product, forbidden items come from the deterministic extraction)."""

    model_config = ConfigDict(extra="forbid")

    families: list[str] = Field(default_factory=list, max_length=4)
    notes: list[str] = Field(default_factory=list, max_length=8)
    moods: list[str] = Field(default_factory=list, max_length=3)
    seasons: list[str] = Field(default_factory=list, max_length=2)
    intensity: str | None = None


class FamilyVerdict(BaseModel):
    """The validator role's answer to the one question code cannot settle: which families
    the brief asks for, when the lexicon found none."""

    model_config = ConfigDict(extra="forbid")

    families: list[str] = Field(min_length=1, max_length=3)


class CreativeHints(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hints: list[str] = Field(min_length=3, max_length=8)


def _enum_list(values: list[str], max_items: int, min_items: int = 0) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "string", "enum": values},
        "minItems": min_items,
        "maxItems": max_items,
    }


READING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "families": _enum_list(FAMILIES, 3, 1),
        "notes": {
            "type": "array",
            "items": {"type": "string", "minLength": 2, "maxLength": MAX_NOTE_CHARS},
            "maxItems": 6,
        },
        "moods": _enum_list(MOODS, 3),
        "seasons": _enum_list(SEASONS, 2),
        "intensity": {"type": "string", "enum": INTENSITIES},
    },
    "required": ["families", "notes", "moods", "seasons", "intensity"],
    "additionalProperties": False,
}

FAMILY_VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"families": _enum_list(FAMILIES, 3, 1)},
    "required": ["families"],
    "additionalProperties": False,
}

HINTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "hints": {
            "type": "array",
            "items": {"type": "string", "minLength": 8, "maxLength": MAX_HINT_CHARS},
            "minItems": 3,
            "maxItems": 5,
        }
    },
    "required": ["hints"],
    "additionalProperties": False,
}

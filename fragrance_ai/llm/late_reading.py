"""What the readers that no design waits for found in a brief: suggestions, never the design's
input (issue 26). A reader reads late when its reading cannot change the design (a role with
no field of its own in `llm.model_fills`) or when its model was still loading as the brief
arrived (the paraphrase matcher, a role). What it found is kept on the brief; the perfumer
may accept it on the workbench, which designs again from the corrected brief.

Each field holds only what the reading does not already hold, in the correction form's
vocabulary (families, moods, seasons, intensity, notes, evocations), plus the creative hints
as prose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.llm.merge import ALL_FILLS, merge_reading
from fragrance_ai.llm.reading import ModelReading

PARAPHRASES = "paraphrases"

READING = "reading"
READY = "ready"
FAILED = "failed"


@dataclass
class Suggestions:
    fields: dict[str, Any] = field(default_factory=dict)
    # Each late reader's path: model, outcome, fallback, seconds.
    readers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, name: str, values: list[str]) -> None:
        known = self.fields.setdefault(name, [])
        known.extend(value for value in values if value not in known)
        if not known:
            del self.fields[name]

    def keep_families(self, known: set[str]) -> None:
        """Only families a correction accepts (the catalogue's): a suggestion the perfumer
        accepts must design, not come back refused."""
        families = [f for f in self.fields.pop("families", []) if f in known]
        if families:
            self.fields["families"] = families

    def record(self, seconds: float) -> dict[str, Any]:
        return {
            "state": READY,
            "fields": self.fields,
            "readers": self.readers,
            "seconds": round(seconds, 3),
        }


def pending_record(readers: list[str]) -> dict[str, Any]:
    return {"state": READING, "readers": {name: {"outcome": "pending"} for name in readers}}


def failed_record(detail: str) -> dict[str, Any]:
    return {"state": FAILED, "detail": detail}


def parser_suggestions(
    text: str,
    brief: CreativeBrief,
    reading: ModelReading,
    catalogue: Catalogue,
    into: Suggestions,
) -> dict[str, Any]:
    """What the parser model would have filled had it earned every field: the merge rule
    decides (the text's own reading always wins), so a suggestion never contradicts the
    text. Returns the merge's record of conflicts and dropped values for the reader's path."""
    outcome = merge_reading(text, brief, reading, catalogue, fills=ALL_FILLS)
    filled = outcome.brief
    for name in outcome.from_model:
        if name == "intensity":
            into.fields["intensity"] = filled.intensity.value
        elif name == "preferred_notes":
            into.add("notes", [n for n in filled.preferred_notes if n not in brief.preferred_notes])
        elif name == "unmatched_notes":
            into.add("notes", [n for n in filled.unmatched_notes if n not in brief.unmatched_notes])
        else:
            into.add(name, list(getattr(filled, name)))
    return {"conflicts": outcome.conflicts, "ignored": outcome.ignored}


def family_suggestions(brief: CreativeBrief, families: list[str], into: Suggestions) -> None:
    """The validator's families, where the text named none (where it names some, they stand)."""
    if "families" in brief.defaults_used:
        avoided = set(brief.avoid)
        into.add("families", [f for f in families if f not in avoided])


def hint_suggestions(
    brief: CreativeBrief, hints: list[str], named: list[str], into: Suggestions
) -> None:
    into.add("hints", hints)
    into.add(
        "notes",
        [n for n in named if n not in brief.notes and n not in brief.avoid],
    )

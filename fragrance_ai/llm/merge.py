"""The merge rule between the deterministic extraction and a model's reading (the validator
role's code half, which always runs).

What the text literally names comes from the deterministic parser and is never overridden:
materials, numbers (budget, dosage, hours), product, forbidden items, unmatched notes, the
evocations, structure and accepted clash classes it reads, and whether the text gives a
direction at all (a model cannot turn noise, or a text that says nothing of the smell, into
a brief). What needs
reading comes from the model, only where the text left a field empty or defaulted:
families, moods, seasons, intensity. Notes a model adds that the text does not name are
soft preferences, never required materials. Every disagreement is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fragrance_ai.domain.brief import CreativeBrief, Intensity
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.families import canonical_family
from fragrance_ai.domain.note_words import NOTE_WORDS
from fragrance_ai.domain.parser import normalise_text
from fragrance_ai.llm.reading import FAMILIES, INTENSITIES, MOODS, SEASONS, ModelReading


@dataclass
class MergeOutcome:
    brief: CreativeBrief
    # Fields the model filled.
    from_model: list[str] = field(default_factory=list)
    # "families: the text names woody; the model read floral; kept the text's".
    conflicts: list[str] = field(default_factory=list)
    # Model values dropped, and why (unknown value, forbidden, not in the text).
    ignored: list[str] = field(default_factory=list)
    # What the model read in fields it is not trusted to fill (recorded, not applied).
    suggested: dict[str, object] = field(default_factory=dict)


def normalise_reading(reading: ModelReading) -> tuple[ModelReading, list[str]]:
    """Schema repair and normalisation that code can always do: canonical family names,
    values outside the closed vocabularies dropped, duplicates removed."""
    ignored: list[str] = []

    def keep(values: list[str], allowed: list[str], what: str) -> list[str]:
        kept: list[str] = []
        for value in values:
            clean = canonical_family(value) if what == "family" else value.strip().lower()
            if clean not in allowed:
                ignored.append(f"{what} {value!r}: not a known value")
            elif clean not in kept:
                kept.append(clean)
        return kept

    intensity = (reading.intensity or "").strip().lower() or None
    if intensity is not None and intensity not in INTENSITIES:
        ignored.append(f"intensity {reading.intensity!r}: not a known value")
        intensity = None
    notes = list(dict.fromkeys(n.strip().lower() for n in reading.notes if n.strip()))
    normal = ModelReading(
        families=keep(reading.families, FAMILIES, "family"),
        notes=notes,
        moods=keep(reading.moods, MOODS, "mood"),
        seasons=keep(reading.seasons, SEASONS, "season"),
        intensity=intensity,
    )
    return normal, ignored


ALL_FILLS = frozenset(
    {"families", "moods", "seasons", "intensity", "unmatched_notes", "preferred_notes"}
)


def merge_reading(
    text: str,
    literal: CreativeBrief,
    reading: ModelReading,
    catalogue: Catalogue,
    *,
    fills: frozenset[str] = ALL_FILLS,
) -> MergeOutcome:
    """`fills`: the fields a model may fill where the text left them empty (`llm.model_fills`:
    only those a model has earned on bench/llm.py). The rest of its reading is recorded as
    `suggested`, not applied."""
    reading, ignored = normalise_reading(reading)
    outcome = MergeOutcome(brief=literal, ignored=ignored)
    suggested = {
        name: value
        for name, value in reading.model_dump(exclude={"notes"}).items()
        if name not in fills and value
    }
    if suggested:
        outcome.suggested = suggested
        reading = reading.model_copy(
            update={name: ([] if name != "intensity" else None) for name in suggested}
        )
    update: dict[str, object] = {}
    defaults = set(literal.defaults_used)
    avoided = {a.lower() for a in literal.avoid}

    families = [f for f in reading.families if f not in avoided]
    # Only a brief the text gives a direction (understood) takes a model's families: a text
    # that says nothing about the smell is asked about it, not guessed at.
    left_empty = "families" in defaults or not literal.families
    if left_empty and literal.understood and families:
        update["families"] = families
        defaults.discard("families")
        outcome.from_model.append("families")
    elif families and set(families) != set(literal.families):
        outcome.conflicts.append(
            f"families: the text names {', '.join(literal.families)}; the model read "
            f"{', '.join(families)}; kept the text's"
        )
    for name in ("moods", "seasons"):
        values: list[str] = getattr(reading, name)
        if values and not getattr(literal, name):
            update[name] = values
            outcome.from_model.append(name)
    if reading.intensity and "intensity" in defaults:
        update["intensity"] = Intensity(reading.intensity)
        defaults.discard("intensity")
        outcome.from_model.append("intensity")
    elif reading.intensity and reading.intensity != literal.intensity.value:
        outcome.conflicts.append(
            f"intensity: the text says {literal.intensity.value}; the model read "
            f"{reading.intensity}; kept the text's"
        )

    preferred, unmatched = _model_notes(text, literal, reading.notes, catalogue, outcome)
    if preferred and "preferred_notes" in fills:
        # After the literal reading's own (an evocation's materials), never instead of them.
        update["preferred_notes"] = [*literal.preferred_notes, *preferred]
        outcome.from_model.append("preferred_notes")
    elif preferred:
        # Unearned: a small model's notes were the prompt's worked example repeated
        # (bergamot and neroli in an amber brief); they would pull the design's target.
        outcome.suggested["preferred_notes"] = preferred
    if unmatched and "unmatched_notes" in fills:
        update["unmatched_notes"] = [*literal.unmatched_notes, *unmatched]
        # Read now, so no longer unread.
        read = {word for note in unmatched for word in normalise_text(note).split()}
        update["unread_words"] = [w for w in literal.unread_words if w not in read]
        outcome.from_model.append("unmatched_notes")
    elif unmatched:
        outcome.suggested["unmatched_notes"] = unmatched
    if update:
        update["defaults_used"] = [d for d in literal.defaults_used if d in defaults]
        outcome.brief = literal.model_copy(update=update)
    return outcome


def _model_notes(
    text: str,
    literal: CreativeBrief,
    notes: list[str],
    catalogue: Catalogue,
    outcome: MergeOutcome,
) -> tuple[list[str], list[str]]:
    clean_text = normalise_text(text)
    avoided = {a.lower() for a in literal.avoid}
    preferred: list[str] = []
    unmatched: list[str] = []
    for note in notes:
        target = NOTE_WORDS.get(note, note)
        ingredient = catalogue.find(target) if target else None
        if ingredient is not None:
            if ingredient.name.lower() in avoided or note in avoided:
                outcome.ignored.append(f"note {note!r}: the brief forbids it")
            elif ingredient.name not in {*literal.notes, *literal.preferred_notes, *preferred}:
                preferred.append(ingredient.name)
        elif note in clean_text and note not in literal.unmatched_notes and note not in avoided:
            # Named in the text, but nothing in the catalogue: reported, not dropped.
            unmatched.append(note)
        else:
            outcome.ignored.append(f"note {note!r}: neither in the catalogue nor in the text")
    return preferred, unmatched

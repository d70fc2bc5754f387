"""A brief as the perfumer corrected it: what the parser understood, edited on the
workbench, resolved against the catalogue and the vocabulary the designer knows.

A correction is taken at its word, so nothing in it may be silently ignored: a family, mood
or season the designer has no meaning for is a problem to report, not a word to drop. Notes
are the exception the parser makes too: a note no material matches is kept as an unmatched
note (reported with the result), because "fig leaf" is a fair thing to ask for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fragrance_ai.domain.brief import CreativeBrief, Intensity
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.designer import MOOD_FAMILIES, SEASON_FAMILIES
from fragrance_ai.domain.evocations import (
    EvocationMatch,
    apply_evocations,
    evocations_by_id,
    load_evocations,
)
from fragrance_ai.domain.families import canonical_family
from fragrance_ai.domain.parser import language_of
from fragrance_ai.domain.products import ProductType


@dataclass(frozen=True, slots=True)
class BriefEdits:
    families: list[str]
    notes: list[str]
    moods: list[str]
    seasons: list[str]
    avoid: list[str]
    intensity: Intensity
    dosage_percent: float | None
    budget_per_kg_eur: float | None
    longevity_hours: float | None
    # Evocation ids kept (or added) from what was read; removing one drops its structure,
    # its accepted clash classes and its soft materials.
    evocations: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    index: int
    message: str
    value: str


def vocabulary(catalogue: Catalogue) -> dict[str, list[str]]:
    """The words a correction may use for families, moods and seasons."""
    return {
        "families": sorted(catalogue.families()),
        "moods": sorted(MOOD_FAMILIES),
        "seasons": sorted(SEASON_FAMILIES),
        "intensities": [intensity.value for intensity in Intensity],
        "evocations": sorted(evocation.id for evocation in load_evocations()),
    }


def correct_brief(
    catalogue: Catalogue, text: str, product: ProductType, edits: BriefEdits
) -> tuple[CreativeBrief | None, list[Problem]]:
    """The brief to design from, or the problems that stop it (each naming its entry)."""
    words = vocabulary(catalogue)
    problems: list[Problem] = []
    families = _known(edits.families, "families", set(words["families"]), problems)
    moods = _known(edits.moods, "moods", set(words["moods"]), problems)
    seasons = _known(edits.seasons, "seasons", set(words["seasons"]), problems)
    by_id = evocations_by_id()
    evocations = [
        by_id[word] for word in _known(edits.evocations, "evocations", set(by_id), problems)
    ]
    notes: list[str] = []
    unmatched: list[str] = []
    for note in edits.notes:
        ingredient = catalogue.find(note)
        if ingredient is None:
            _add_once(unmatched, note.strip())
        else:
            _add_once(notes, ingredient.name)
    avoid: list[str] = []
    for term in edits.avoid:
        _add_once(avoid, term.strip())
    clash = sorted(set(notes).intersection(avoid)) + sorted(set(families).intersection(avoid))
    for index, term in enumerate(edits.avoid):
        if term.strip() in clash:
            problems.append(
                Problem("avoid", index, f"'{term.strip()}' is both asked for and avoided", term)
            )
    if problems:
        return None, problems
    brief = CreativeBrief(
        families=families,
        notes=notes,
        unmatched_notes=unmatched,
        moods=moods,
        seasons=seasons,
        intensity=edits.intensity,
        product=product,
        dosage_percent=edits.dosage_percent,
        budget_per_kg_eur=edits.budget_per_kg_eur,
        avoid=avoid,
        longevity_hours=edits.longevity_hours,
        language=language_of(text),
        understood=bool(families or notes or unmatched or moods or seasons),
    )
    # The families stay as the perfumer left them; with none, the evocations give theirs.
    matches = [EvocationMatch(evocation, evocation.id, 1.0, "literal") for evocation in evocations]
    applied = apply_evocations(brief, matches, catalogue=catalogue)
    if families:
        applied = applied.model_copy(update={"families": families})
    return applied, []


def _known(values: list[str], field: str, known: set[str], problems: list[Problem]) -> list[str]:
    kept: list[str] = []
    for index, value in enumerate(values):
        word = value.strip().lower()
        canonical = canonical_family(word) if field == "families" else word
        if canonical in known:
            _add_once(kept, canonical)
        else:
            problems.append(
                Problem(
                    field,
                    index,
                    f"'{value.strip()}' is not one of the {field} the designer knows: "
                    + ", ".join(sorted(known)),
                    value,
                )
            )
    return kept


def _add_once(items: list[str], item: str) -> None:
    if item and item not in items:
        items.append(item)

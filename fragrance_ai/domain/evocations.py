"""The evocation library: what a brief says without naming a family or a material.

A perfumer reads "petrichor", "a campfire", "like Shalimar", "powdery", "cosy" or "살냄새" as
a direction: families, an accord's materials, sometimes a classic structure and odour classes
the brief asks for (a campfire asks for smoke). `data/perfumery/evocations.yaml` holds these
readings, each with its source or reasoning; this module loads and checks them, matches their
phrases literally in a text, and applies what matched to a brief. A paraphrase matcher (a
sentence-embedding model over each entry's `description`) produces the same `EvocationMatch`
with `how="paraphrase"`, and `apply_evocations` treats both alike.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.families import FAMILY_WORDS
from fragrance_ai.domain.material_knowledge import Clash
from fragrance_ai.domain.text import HANGUL, WORD, normalise_text, phrase_pattern, word_form
from fragrance_ai.domain.yaml_text import parse_yaml

EVOCATIONS_FILE = "evocations.yaml"
KINDS = ("scene", "texture", "reference", "mood", "structure")
# The classic structures of data/perfumery/structures.yaml an evocation may name.
STRUCTURE_IDS = frozenset({
    "cologne", "citrus_aromatic", "chypre", "fougere", "woody_aromatic", "amber",
    "woody_ambery", "oud", "white_floral", "rose", "aldehydic_floral", "green_floral",
    "fruity_floral", "aquatic", "gourmand", "leather", "musk_skin", "spicy_oriental",
})  # fmt: skip
FAMILIES = frozenset(FAMILY_WORDS)
CLASHES = frozenset(clash.value for clash in Clash)
# A scene or a named perfume is read as a whole: the words inside it are not also a product
# or an intensity ("clean laundry" is not a laundry detergent, "Light Blue" is not light).
WHOLE_KINDS = frozenset({"scene", "reference"})


class EvocationError(ValueError):
    """The evocation file is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class Evocation:
    id: str
    kind: str  # scene | texture | reference | mood | structure
    phrases: tuple[str, ...]  # English phrases matched literally (after normalise_text)
    phrases_ko: tuple[str, ...]  # Korean phrases matched literally
    description: str  # one plain English sentence of what it smells like
    families: tuple[str, ...]  # canonical families (domain/families.py)
    notes: tuple[str, ...]  # catalogue material names it calls for (soft: preferred)
    structure: str | None
    accepts: tuple[str, ...]  # Clash values
    source: str
    # What the evocation cannot be without, as groups of catalogue names (one of each must
    # carry): a famous perfume's signature (Shalimar: bergamot and vanilla). Empty: its notes
    # are carried facet by facet.
    signature: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class EvocationMatch:
    evocation: Evocation
    phrase: str  # the text that matched (or the brief clause, for a paraphrase)
    score: float  # 1.0 for literal matches
    how: str  # "literal" or "paraphrase"
    # A mood word that qualifies a note ("clean musk", "warm vanilla"): it colours that note,
    # not the whole perfume, so it brings its families and materials but names no structure.
    qualifies_a_note: bool = False


@dataclass(frozen=True)
class EvocationSpan:
    """Where in a normalised text an evocation's phrase matched (the parser accounts for
    every word of the brief with these)."""

    evocation: Evocation
    start: int
    end: int
    phrase: str


@functools.cache
def load_evocations() -> tuple[Evocation, ...]:
    from fragrance_ai.domain.catalogue_file import load_catalogue

    text = resources.files("fragrance_ai").joinpath("data", "perfumery", EVOCATIONS_FILE)
    return parse_evocations(text.read_text(encoding="utf-8"), load_catalogue())


@functools.cache
def evocations_by_id() -> dict[str, Evocation]:
    """The packaged library by id (read-only: the same mapping is shared by every caller)."""
    return {evocation.id: evocation for evocation in load_evocations()}


def parse_evocations(text: str, catalogue: Catalogue | None = None) -> tuple[Evocation, ...]:
    """The entries of an evocation file, checked: known kind, canonical families, valid clash
    classes and structure ids, a source, at least one phrase, and (given a catalogue) notes
    that are catalogue material names."""
    document = parse_yaml(text) or {}
    if not isinstance(document, dict) or not isinstance(document.get("evocations"), list):
        raise EvocationError(f"{EVOCATIONS_FILE}: no 'evocations' list")
    sources = document.get("sources") or {}
    names = {ingredient.name for ingredient in catalogue} if catalogue is not None else None
    entries: list[Evocation] = []
    seen: set[str] = set()
    for index, raw in enumerate(document["evocations"]):
        entry = _evocation(raw, index, sources, names)
        if entry.id in seen:
            raise EvocationError(f"{_where(raw, index)}: id: {entry.id!r} is listed twice")
        seen.add(entry.id)
        entries.append(entry)
    return tuple(entries)


def _where(raw: Any, index: int) -> str:
    name = raw.get("id") if isinstance(raw, dict) else None
    return f"{EVOCATIONS_FILE}: entry {index + 1}" + (f" ({name})" if name else "")


def _evocation(raw: Any, index: int, sources: dict[str, Any], names: set[str] | None) -> Evocation:
    where = _where(raw, index)
    if not isinstance(raw, dict):
        raise EvocationError(f"{where}: not a mapping")
    known = {
        "id", "kind", "phrases", "phrases_ko", "description", "families", "notes",
        "structure", "accepts", "source", "signature",
    }  # fmt: skip
    extra = sorted(set(raw) - known)
    if extra:
        raise EvocationError(f"{where}: {extra[0]}: not a field of an evocation")

    def text(field: str) -> str:
        value = raw.get(field)
        if not isinstance(value, str) or not value.strip():
            raise EvocationError(f"{where}: {field}: missing or empty")
        return value.strip()

    def words(field: str, *, required: bool) -> tuple[str, ...]:
        value = raw.get(field, [])
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise EvocationError(f"{where}: {field}: must be a list of words")
        if required and not value:
            raise EvocationError(f"{where}: {field}: must name at least one")
        return tuple(v.strip() for v in value)

    entry_id = text("id")
    if not re.fullmatch(r"[a-z0-9_]+", entry_id):
        raise EvocationError(f"{where}: id: {entry_id!r} is not a lower-case identifier")
    kind = text("kind")
    if kind not in KINDS:
        raise EvocationError(f"{where}: kind: {kind!r} is not one of {', '.join(KINDS)}")
    phrases = tuple(normalise_text(p).strip() for p in words("phrases", required=False))
    phrases_ko = tuple(normalise_text(p).strip() for p in words("phrases_ko", required=False))
    _check_phrases(where, phrases, phrases_ko)
    families = words("families", required=True)
    notes = words("notes", required=False)
    structure = raw.get("structure")
    accepts = words("accepts", required=False)
    _check_vocabulary(
        where, families=families, notes=notes, structure=structure, accepts=accepts, names=names
    )
    signature = _signature(where, raw.get("signature"), names)
    source = text("source")
    key = source.split(":", 1)[0]
    if ":" in source and key in sources:
        # "practice: the reasoning" keeps the reasoning and names the source it rests on.
        source = f"{source} [{key}: {' '.join(str(sources[key]).split())}]"
    return Evocation(
        id=entry_id,
        kind=kind,
        phrases=phrases,
        phrases_ko=phrases_ko,
        description=" ".join(text("description").split()),
        families=families,
        notes=notes,
        structure=str(structure) if structure is not None else None,
        accepts=accepts,
        source=" ".join(source.split()),
        signature=signature,
    )


def _signature(where: str, raw: Any, names: set[str] | None) -> tuple[tuple[str, ...], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(
        isinstance(group, list) and group and all(isinstance(n, str) for n in group)
        for group in raw
    ):
        raise EvocationError(f"{where}: signature: must be a list of groups of material names")
    groups = tuple(tuple(name.strip() for name in group) for group in raw)
    if names is not None:
        unknown = sorted({n for group in groups for n in group} - names)
        if unknown:
            raise EvocationError(f"{where}: signature: not in the catalogue: {', '.join(unknown)}")
    return groups


def _check_phrases(where: str, phrases: tuple[str, ...], phrases_ko: tuple[str, ...]) -> None:
    if not phrases and not phrases_ko:
        raise EvocationError(f"{where}: phrases: an evocation needs a phrase to be read by")
    for phrase in phrases:
        if HANGUL.search(phrase):
            raise EvocationError(f"{where}: phrases: {phrase!r} is Korean (phrases_ko)")
    for phrase in phrases_ko:
        if not HANGUL.search(phrase):
            raise EvocationError(f"{where}: phrases_ko: {phrase!r} has no Korean in it")


def _check_vocabulary(
    where: str,
    *,
    families: tuple[str, ...],
    notes: tuple[str, ...],
    structure: object,
    accepts: tuple[str, ...],
    names: set[str] | None,
) -> None:
    for family in families:
        if family not in FAMILIES:
            raise EvocationError(
                f"{where}: families: {family!r} is not a canonical family "
                f"({', '.join(sorted(FAMILIES))})"
            )
    for note in notes:
        if names is not None and note not in names:
            raise EvocationError(f"{where}: notes: {note!r} is not a catalogue material")
    if structure is not None and structure not in STRUCTURE_IDS:
        raise EvocationError(f"{where}: structure: {structure!r} is not a known structure")
    for clash in accepts:
        if clash not in CLASHES:
            raise EvocationError(
                f"{where}: accepts: {clash!r} is not a clash class ({', '.join(sorted(CLASHES))})"
            )


@functools.cache
def _matcher(evocations: tuple[Evocation, ...]) -> tuple[re.Pattern[str], dict[str, Evocation]]:
    by_phrase: dict[str, Evocation] = {}
    for evocation in evocations:
        for phrase in (*evocation.phrases, *evocation.phrases_ko):
            # The first entry to claim a phrase keeps it (the file is ordered on purpose).
            by_phrase.setdefault(phrase, evocation)
    return phrase_pattern(list(by_phrase)), by_phrase


def literal_spans(clean: str, evocations: Sequence[Evocation]) -> list[EvocationSpan]:
    """Every literal match in an already normalised text, in order, longest phrase first at
    each position and never overlapping."""
    pattern, by_phrase = _matcher(tuple(evocations))
    return [
        EvocationSpan(by_phrase[m.group(0)], m.start(), m.end(), m.group(0))
        for m in pattern.finditer(clean)
    ]


def match_literal(text: str, evocations: Sequence[Evocation]) -> list[EvocationMatch]:
    """The evocations whose phrases the text contains, each once, in the order they first
    appear."""
    matches: dict[str, EvocationMatch] = {}
    for span in literal_spans(normalise_text(text), evocations):
        if span.evocation.id not in matches:
            matches[span.evocation.id] = EvocationMatch(span.evocation, span.phrase, 1.0, "literal")
    return list(matches.values())


def apply_evocations(
    brief: CreativeBrief,
    matches: Sequence[EvocationMatch],
    *,
    catalogue: Catalogue | None = None,
) -> CreativeBrief:
    """The brief with what the evocations read: their ids, their families after the brief's
    own (defaulted families are replaced; an avoided family never comes in), their materials
    as soft preferences (never one the brief forbids, by name or by family), the first
    structure named where the brief has none, the clash classes they ask for, and the brief
    directed (`understood`). The words they matched are no longer unread."""
    if not matches:
        return brief
    if catalogue is None:
        from fragrance_ai.domain.catalogue_file import load_catalogue

        catalogue = load_catalogue()
    avoided = {word.lower() for word in brief.avoid}
    defaulted = "families" in brief.defaults_used
    families = [] if defaulted else list(brief.families)
    evocations = list(brief.evocations)
    preferred = list(brief.preferred_notes)
    structure = brief.structure
    accepted = list(brief.accepted_clashes)
    qualifying = list(brief.qualifying_evocations)
    read: set[str] = set()
    for match in matches:
        evocation = match.evocation
        _add(evocations, evocation.id)
        if match.qualifies_a_note:
            _add(qualifying, evocation.id)
        for family in evocation.families:
            if family not in avoided:
                _add(families, family)
        for note in evocation.notes:
            if note not in brief.notes and not _forbidden(note, avoided, catalogue):
                _add(preferred, note)
        if structure is None and evocation.structure is not None and not match.qualifies_a_note:
            structure = evocation.structure
        for clash in evocation.accepts:
            _add(accepted, clash)
        read.update(_words_of(match.phrase))
    return brief.model_copy(
        update={
            "evocations": evocations,
            "families": families if families or not defaulted else list(brief.families),
            "preferred_notes": preferred,
            "structure": structure,
            "accepted_clashes": accepted,
            "qualifying_evocations": qualifying,
            "unread_words": [w for w in brief.unread_words if w not in read],
            "understood": True,
            "defaults_used": [d for d in brief.defaults_used if d != "families" or not families],
        }
    )


def _forbidden(note: str, avoided: set[str], catalogue: Catalogue) -> bool:
    if note.lower() in avoided:
        return True
    ingredient = catalogue.find(note)
    return ingredient is not None and any(f in avoided for f in ingredient.families)


def _words_of(phrase: str) -> set[str]:
    return {word_form(m.group(0)) for m in WORD.finditer(normalise_text(phrase))}


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)

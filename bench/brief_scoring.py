"""Field-level precision and recall of brief parsers against hand-labelled briefs.

The labels live in bench/data/briefs.yaml (its header says how they were read). bench/llm.py
runs the parsers and hands (label, parse) pairs to score(); nothing here runs a parser, so the
scoring can be tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from fragrance_ai.domain.brief import CreativeBrief, Intensity
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.families import FAMILY_WORDS, canonical_family
from fragrance_ai.domain.parser import MOOD_WORDS, SEASON_WORDS
from fragrance_ai.domain.products import ProductType

DEFAULT_PATH = Path(__file__).parent / "data" / "briefs.yaml"
LANGUAGES = ("en", "ko")
LIST_FIELDS = ("families", "notes", "unmatched_notes", "moods", "seasons", "avoid")
SCALAR_FIELDS = ("intensity", "product", "dosage_percent", "budget_per_kg_eur", "longevity_hours")
FIELDS = LIST_FIELDS + SCALAR_FIELDS
_EXPECT_KEYS = frozenset({"understood", *FIELDS})
_ENTRY_KEYS = frozenset({"id", "language", "text", "expect"})
_TOLERANCE = 1e-6

Scalar = str | float


# --- the labelled set -------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """What a reader finds in one text. Empty sets and None mean "the text says nothing"."""

    understood: bool
    families: frozenset[str] = frozenset()
    notes: frozenset[str] = frozenset()
    unmatched_notes: frozenset[str] = frozenset()
    moods: frozenset[str] = frozenset()
    seasons: frozenset[str] = frozenset()
    avoid: frozenset[str] = frozenset()
    intensity: Intensity | None = None
    product: ProductType | None = None
    dosage_percent: float | None = None
    budget_per_kg_eur: float | None = None
    longevity_hours: float | None = None


@dataclass(frozen=True)
class LabelledBrief:
    id: str
    language: str
    text: str
    expect: Expectation


def load_labelled(
    path: Path | str = DEFAULT_PATH, *, catalogue: Catalogue | None = None
) -> list[LabelledBrief]:
    """The labelled set, checked: a typo in a label would silently skew every figure."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a list of labelled briefs")
    cat = catalogue if catalogue is not None else load_catalogue()
    briefs = [_parse_entry(entry, index, cat) for index, entry in enumerate(raw)]
    seen: set[str] = set()
    for brief in briefs:
        if brief.id in seen:
            raise _error(brief.id, "id", "used by more than one entry")
        seen.add(brief.id)
    return briefs


def _error(entry_id: str, field: str, message: str) -> ValueError:
    return ValueError(f"{entry_id}: {field}: {message}")


def _parse_entry(entry: object, index: int, cat: Catalogue) -> LabelledBrief:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise ValueError(f"entry {index}: expected a mapping with a string id")
    entry_id: str = entry["id"]
    if set(entry) != _ENTRY_KEYS:
        raise _error(entry_id, "entry", f"keys must be exactly {sorted(_ENTRY_KEYS)}")
    language, text = entry["language"], entry["text"]
    if language not in LANGUAGES:
        raise _error(entry_id, "language", f"{language!r} is not one of {LANGUAGES}")
    if not entry_id.startswith(f"{language}-"):
        raise _error(entry_id, "id", f"must start with {language}-")
    if not isinstance(text, str) or not text.strip():
        raise _error(entry_id, "text", "must be non-empty text")
    return LabelledBrief(entry_id, language, text, _parse_expect(entry_id, entry["expect"], cat))


def _parse_expect(entry_id: str, raw: object, cat: Catalogue) -> Expectation:
    if not isinstance(raw, dict):
        raise _error(entry_id, "expect", "must be a mapping")
    unknown = set(raw) - _EXPECT_KEYS
    if unknown:
        raise _error(entry_id, "expect", f"unknown fields {sorted(unknown)}")
    understood = raw.get("understood")
    if not isinstance(understood, bool):
        raise _error(entry_id, "understood", "must be true or false")
    if not understood and set(raw) != {"understood"}:
        raise _error(entry_id, "expect", "a text that is not a brief expects nothing else")
    checks = _list_checks(cat)

    def items(name: str) -> frozenset[str]:
        return _parse_list(entry_id, name, raw.get(name, []), checks[name])

    def number(name: str) -> float | None:
        return _parse_number(entry_id, name, raw.get(name))

    return Expectation(
        understood=understood,
        families=items("families"),
        notes=items("notes"),
        unmatched_notes=items("unmatched_notes"),
        moods=items("moods"),
        seasons=items("seasons"),
        avoid=items("avoid"),
        intensity=_parse_enum(entry_id, "intensity", raw.get("intensity"), Intensity),
        product=_parse_enum(entry_id, "product", raw.get("product"), ProductType),
        dosage_percent=number("dosage_percent"),
        budget_per_kg_eur=number("budget_per_kg_eur"),
        longevity_hours=number("longevity_hours"),
    )


# Each check returns what is wrong with one list item, or None when it is fine.
Check = Callable[[str], str | None]


def _list_checks(cat: Catalogue) -> dict[str, Check]:
    return {
        "families": _member_of(FAMILY_WORDS),
        "moods": _member_of(MOOD_WORDS),
        "seasons": _member_of(SEASON_WORDS),
        "notes": lambda item: _check_material(cat, item),
        "unmatched_notes": lambda item: _check_unmatched(cat, item),
        "avoid": lambda item: _check_avoid(cat, item),
    }


def _member_of(vocabulary: Mapping[str, object]) -> Check:
    return lambda item: None if item in vocabulary else f"{item!r} is not a known key"


def _check_material(cat: Catalogue, item: str) -> str | None:
    ingredient = cat.find(item)
    if ingredient is None:
        return f"{item!r} is not a catalogue name"
    if ingredient.name != item:
        return f"{item!r}: write the canonical name {ingredient.name!r}"
    return None


def _check_unmatched(cat: Catalogue, item: str) -> str | None:
    ingredient = cat.find(item)
    if ingredient is not None:
        return f"the catalogue has {item!r} as {ingredient.name!r}; list it under notes"
    return None if item == item.strip().lower() else f"{item!r} must be lower case"


def _check_avoid(cat: Catalogue, item: str) -> str | None:
    if cat.find(item) is not None:
        return _check_material(cat, item)
    if item in FAMILY_WORDS:
        return None
    if canonical_family(item) in FAMILY_WORDS:
        return f"{item!r}: write the family key {canonical_family(item)!r}"
    # Catalogue names are capitalised, plain words are not: a capitalised miss is a typo.
    return None if item == item.strip().lower() else f"{item!r} is not a catalogue name"


def _parse_list(entry_id: str, field: str, raw: object, check: Check) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise _error(entry_id, field, "must be a list of strings")
    if len(set(raw)) != len(raw):
        raise _error(entry_id, field, "lists an item twice")
    for item in raw:
        problem = check(item)
        if problem is not None:
            raise _error(entry_id, field, problem)
    return frozenset(raw)


_Enum = TypeVar("_Enum", Intensity, ProductType)


def _parse_enum(entry_id: str, field: str, raw: object, kind: type[_Enum]) -> _Enum | None:
    if raw is None:
        return None
    allowed = [member.value for member in kind]
    if raw not in allowed:
        raise _error(entry_id, field, f"{raw!r} is not one of {allowed}")
    return kind(raw)


def _parse_number(entry_id: str, field: str, raw: object) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        raise _error(entry_id, field, f"{raw!r} is not a positive number")
    return float(raw)


# --- scores -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    # None where the figure is undefined (nothing predicted, or nothing expected), so that an
    # empty field is not reported as perfect or as a failure.
    @property
    def precision(self) -> float | None:
        predicted = self.tp + self.fp
        return self.tp / predicted if predicted else None

    @property
    def recall(self) -> float | None:
        expected = self.tp + self.fn
        return self.tp / expected if expected else None

    @property
    def f1(self) -> float | None:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else None


@dataclass(frozen=True)
class Detection:
    """Spotting texts that are not briefs; the positive class is "not a brief"."""

    tp: int = 0  # not a brief, reported not understood
    fp: int = 0  # a brief, reported not understood
    fn: int = 0  # not a brief, reported understood
    tn: int = 0

    def __add__(self, other: Detection) -> Detection:
        return Detection(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        )

    @property
    def counts(self) -> Counts:
        return Counts(self.tp, self.fp, self.fn)

    @property
    def entries(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def accuracy(self) -> float | None:
        return (self.tp + self.tn) / self.entries if self.entries else None

    @property
    def non_briefs(self) -> int:
        return self.tp + self.fn

    @property
    def non_briefs_understood(self) -> int:
        return self.fn


@dataclass(frozen=True)
class Breakdown:
    fields: Mapping[str, Counts]
    understood: Detection

    @property
    def overall(self) -> Counts:
        """Micro average: every field's decisions pooled."""
        return sum(self.fields.values(), Counts())


_EMPTY = Breakdown({name: Counts() for name in FIELDS}, Detection())


@dataclass(frozen=True)
class Scores:
    total: Breakdown
    by_language: Mapping[str, Breakdown]


def score(
    pairs: Sequence[tuple[LabelledBrief, CreativeBrief]], *, catalogue: Catalogue | None = None
) -> Scores:
    cat = catalogue if catalogue is not None else load_catalogue()
    scored = [(label.language, _score_entry(label, parsed, cat)) for label, parsed in pairs]
    languages = sorted({language for language, _ in scored})
    return Scores(
        total=_combine(breakdown for _, breakdown in scored),
        by_language={
            language: _combine(b for lang, b in scored if lang == language)
            for language in languages
        },
    )


def _combine(breakdowns: Iterable[Breakdown]) -> Breakdown:
    fields = dict(_EMPTY.fields)
    understood = Detection()
    for breakdown in breakdowns:
        fields = {name: fields[name] + breakdown.fields[name] for name in FIELDS}
        understood += breakdown.understood
    return Breakdown(fields, understood)


def _score_entry(label: LabelledBrief, parsed: CreativeBrief, cat: Catalogue) -> Breakdown:
    is_brief = label.expect.understood
    detection = Detection(
        tp=int(not is_brief and not parsed.understood),
        fp=int(is_brief and not parsed.understood),
        fn=int(not is_brief and parsed.understood),
        tn=int(is_brief and parsed.understood),
    )
    if not is_brief:
        # Whatever a parser makes of a non-brief is noise; detection above is what counts.
        return Breakdown(_EMPTY.fields, detection)
    fields = {name: _score_list(label.expect, parsed, name, cat) for name in LIST_FIELDS}
    fields |= {name: _score_scalar(label.expect, parsed, name) for name in SCALAR_FIELDS}
    return Breakdown(fields, detection)


def _plain(_: Catalogue, word: str) -> str:
    return word.strip().lower()


def _family(_: Catalogue, word: str) -> str:
    return canonical_family(word)


def _material_or_word(cat: Catalogue, word: str) -> str:
    ingredient = cat.find(word)
    return ingredient.name.lower() if ingredient is not None else _plain(cat, word)


def _material_or_family(cat: Catalogue, word: str) -> str:
    ingredient = cat.find(word)
    return ingredient.name.lower() if ingredient is not None else canonical_family(word)


# Labels and predictions go through the same normaliser, so "rose", "Rose oil" and "ROSE OIL"
# all meet as one material, and "oriental" meets "amber" the way the designer reads it.
_NORMALISERS: dict[str, Callable[[Catalogue, str], str]] = {
    "families": _family,
    "notes": _material_or_word,
    "unmatched_notes": _plain,
    "moods": _plain,
    "seasons": _plain,
    "avoid": _material_or_family,
}


def _score_list(expect: Expectation, parsed: CreativeBrief, name: str, cat: Catalogue) -> Counts:
    normalise = _NORMALISERS[name]
    expected = {normalise(cat, word) for word in getattr(expect, name)}
    predicted = {normalise(cat, str(word)) for word in _predicted(parsed, name) or []}
    return Counts(
        tp=len(expected & predicted), fp=len(predicted - expected), fn=len(expected - predicted)
    )


def _score_scalar(expect: Expectation, parsed: CreativeBrief, name: str) -> Counts:
    expected: Scalar | None = getattr(expect, name)
    predicted: Scalar | None = _predicted(parsed, name)
    if predicted is None:
        return Counts(fn=int(expected is not None))
    if expected is None:
        return Counts(fp=1)
    return Counts(tp=1) if _same(expected, predicted) else Counts(fp=1, fn=1)


def _predicted(parsed: CreativeBrief, name: str) -> Any:
    """A field the parser filled with its default was not read from the text, so it is no
    prediction. getattr: CreativeBrief gains unmatched_notes later than this bench."""
    return None if name in parsed.defaults_used else getattr(parsed, name, None)


def _same(expected: Scalar, predicted: Scalar) -> bool:
    if isinstance(expected, float) and isinstance(predicted, int | float):
        return abs(expected - predicted) <= _TOLERANCE
    return str(expected).lower() == str(predicted).lower()


# --- the table --------------------------------------------------------------------------

_CELL = 6
_HEADS = "".join(f"{head:>{_CELL}}" for head in ("P", "R", "F1"))


def format_table(scores_by_parser: Mapping[str, Scores], *, language: str | None = None) -> str:
    """One row per field, P/R/F1 per parser; language narrows it to one language's entries."""
    breakdowns = {
        parser: scores.total if language is None else scores.by_language.get(language, _EMPTY)
        for parser, scores in scores_by_parser.items()
    }
    rows = [(name, [b.fields[name] for b in breakdowns.values()]) for name in FIELDS]
    rows.append(("overall (micro)", [b.overall for b in breakdowns.values()]))
    rows.append(("non-brief detection", [b.understood.counts for b in breakdowns.values()]))
    label_width = max(len(label) for label, _ in rows)
    block = 3 * _CELL
    widths = [max(block, len(parser)) for parser in breakdowns]
    lines = [
        f"language: {language or 'all'}",
        " " * label_width + "".join(f"  {p:>{w}}" for p, w in zip(breakdowns, widths, strict=True)),
        " " * label_width + "".join(f"  {_HEADS:>{w}}" for w in widths),
    ]
    for label, counts in rows:
        cells = "".join(f"  {_triple(c):>{w}}" for c, w in zip(counts, widths, strict=True))
        lines.append(f"{label:<{label_width}}{cells}")
    lines.extend(_detection_line(parser, b.understood) for parser, b in breakdowns.items())
    return "\n".join(lines)


def _triple(counts: Counts) -> str:
    return "".join(f"{_figure(v):>{_CELL}}" for v in (counts.precision, counts.recall, counts.f1))


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _detection_line(parser: str, detection: Detection) -> str:
    return (
        f"{parser}: 'understood' accuracy {_figure(detection.accuracy)} over "
        f"{detection.entries} texts; non-briefs taken as briefs "
        f"{detection.non_briefs_understood}/{detection.non_briefs}"
    )

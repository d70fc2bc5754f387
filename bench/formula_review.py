"""The formula review: options designed for a set of client briefs by the product's own
pipeline, each checked as a perfumer would check it, before issue 25 (revision c416dec) and
after (the working tree), in one run.

    .venv/bin/python -m bench.formula_review [--briefs N] [--seed S] [--json PATH]

The briefs and their labels are `bench/data/formula_review_briefs.yaml` (written and labelled
by a perfumer, not by running the reader). Before and after are judged by the same checks with
today's perfumery data (material knowledge, structures and product bases): what changed is the
reading and the design, not the yardstick. docs/optimize.md ("Formula review") says what each
check asks and which briefs are held out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.catalogue import Catalogue, Tier
from fragrance_ai.domain.families import FAMILY_WORDS
from fragrance_ai.domain.formula import Formula, cost_per_kg_eur
from fragrance_ai.domain.lexicon_ko import (
    FAMILIES_KO,
    INTENSITY_KO,
    MOODS_KO,
    NOTES_KO,
    PRODUCTS_KO,
    SEASONS_KO,
)
from fragrance_ai.domain.material_knowledge import (
    CARRY_PERCENT,
    Clash,
    Form,
    KnowledgeBook,
    MaterialKnowledge,
    Strength,
)
from fragrance_ai.domain.note_words import NOTE_WORDS
from fragrance_ai.domain.parser import (
    INTENSITY_WORDS,
    MOOD_WORDS,
    PRODUCT_WORDS,
    SEASON_WORDS,
    normalise_text,
)
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.structures import MUSK_FAMILY, StructureBook

ROOT = Path(__file__).resolve().parents[1]
BRIEFS_FILE = Path(__file__).resolve().parent / "data" / "formula_review_briefs.yaml"
# The last commit before issue 25's work: the product a perfumer graded C+.
REVISION_BEFORE = "c416dec"
DEFAULT_SEED = 25

CARRIES_NAMED = "carries_named"
NO_CLASH = "no_clash"
STRUCTURE = "structure"
CRYSTALLINE = "crystalline"
COST = "cost"
DISTINCT = "distinct"
HONEST_READING = "honest_reading"
WORDS_ACCOUNTED = "words_accounted"
CHECKS = (
    CARRIES_NAMED,
    NO_CLASH,
    STRUCTURE,
    CRYSTALLINE,
    COST,
    DISTINCT,
    HONEST_READING,
    WORDS_ACCOUNTED,
)

# Points either side of a genre's base and musk ranges: the ranges are teaching figures, and a
# formula 3 points outside one is a variation a perfumer would still show.
STRUCTURE_TOLERANCE_POINTS = 5.0
# A stated budget is met within 10 %: clients quote round figures.
BUDGET_TOLERANCE = 0.10
# An option's idea: its materials with the highest dose over carrying dose, the brief's own
# must-carry materials left out (every option of a rose-oud carries rose and oud by design).
IDEA_SIZE = 3
# Two options are the same idea when they share more than this many of their idea materials.
IDEA_SHARED_AT_MOST = 1

# Lines that are the carrier, not the perfume: left out of the tier and musk shares, and a
# solvent dissolves crystals (the product base's crystalline cap is for a concentrate without
# one). Dipropylene glycol, isopropyl myristate, triethyl citrate, ethanol, paraffin wax.
SOLVENT_CAS = frozenset({"25265-71-8", "110-27-0", "77-93-0", "64-17-5", "8002-74-2"})


_E = TypeVar("_E", bound=StrEnum)


class Kind(StrEnum):
    KEYWORD = "keyword"
    EVOCATIVE = "evocative"
    REFERENCE = "reference"
    MOOD = "mood"
    KOREAN = "korean"
    NO_DIRECTION = "no_direction"


# Kinds reported together: the "evocative, reference or mood" briefs.
KIND_GROUPS: dict[str, tuple[Kind, ...]] = {
    "keyword": (Kind.KEYWORD,),
    "evocative / reference / mood": (Kind.EVOCATIVE, Kind.REFERENCE, Kind.MOOD),
    "korean": (Kind.KOREAN,),
    "no direction": (Kind.NO_DIRECTION,),
}


class BriefLabelError(ValueError):
    """A brief of the review set is mislabelled; the message names it and the field."""


@dataclass(frozen=True)
class ReviewBrief:
    """A client's brief and what the perfumer reads in it (the labels)."""

    id: str
    text: str
    kind: Kind
    # The API's product field, where the client would pick it in the form.
    product: ProductType | None
    # The product the client means, whatever the reading makes of the text.
    product_meant: ProductType
    genre: str | None
    must_carry: tuple[tuple[str, ...], ...] = ()
    accepts: frozenset[Clash] = frozenset()
    # Family keys (a material whose first family it is) and catalogue names the text forbids.
    avoid: tuple[str, ...] = ()
    budget_eur_per_kg: float | None = None
    held_out: bool = False

    @property
    def has_direction(self) -> bool:
        return self.kind is not Kind.NO_DIRECTION


def load_briefs(
    path: Path = BRIEFS_FILE,
    *,
    catalogue: Catalogue | None = None,
    structures: StructureBook | None = None,
) -> list[ReviewBrief]:
    """The review's briefs, every label checked against the catalogue and the structures."""
    if catalogue is None:
        from fragrance_ai.domain.catalogue_file import load_catalogue

        catalogue = load_catalogue()
    if structures is None:
        from fragrance_ai.domain.structures import load_structures

        structures = load_structures()
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    raw_briefs = document.get("briefs")
    if not isinstance(raw_briefs, list):
        raise BriefLabelError(f"{path}: needs a 'briefs' list")
    names = {material.name for material in catalogue}
    briefs = [_brief(raw, names, structures, index) for index, raw in enumerate(raw_briefs)]
    ids = [brief.id for brief in briefs]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise BriefLabelError(f"brief ids repeat: {repeated}")
    return briefs


def _brief(raw: Any, names: set[str], structures: StructureBook, index: int) -> ReviewBrief:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise BriefLabelError(f"briefs[{index}]: needs an 'id'")
    where = f"briefs[{index}] ({raw['id']})"
    unknown = sorted(set(raw) - _LABELS)
    if unknown:
        raise BriefLabelError(f"{where}: unknown labels {unknown}")
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BriefLabelError(f"{where}: 'text' is required")
    kind = _enum(Kind, raw.get("kind"), "kind", where)
    product = None if raw.get("product") is None else _product(raw["product"], "product", where)
    meant = _product(raw.get("product_meant"), "product_meant", where)
    if product is not None and product is not meant:
        raise BriefLabelError(f"{where}: 'product' {product} is not 'product_meant' {meant}")
    genre = raw.get("genre")
    groups = _must_carry(raw.get("must_carry"), names, where)
    if kind is Kind.NO_DIRECTION:
        if genre is not None or groups:
            raise BriefLabelError(f"{where}: a brief with no direction has no genre or must_carry")
    elif not isinstance(genre, str) or structures.get(genre) is None:
        raise BriefLabelError(f"{where}: 'genre' {genre!r} is not a structure id")
    elif not groups:
        raise BriefLabelError(f"{where}: a brief with a direction needs a 'must_carry' group")
    accepts = frozenset(_enum(Clash, value, "accepts", where) for value in raw.get("accepts") or [])
    avoid = tuple(str(value) for value in raw.get("avoid") or [])
    for value in avoid:
        if value not in names and value not in FAMILY_WORDS:
            raise BriefLabelError(f"{where}: avoid {value!r} is no family key or catalogue name")
    budget = raw.get("budget_eur_per_kg")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int | float)):
        raise BriefLabelError(f"{where}: 'budget_eur_per_kg' must be a number")
    held_out = raw.get("held_out", False)
    if not isinstance(held_out, bool):
        raise BriefLabelError(f"{where}: 'held_out' must be true or false")
    return ReviewBrief(
        id=raw["id"],
        text=text.strip(),
        kind=kind,
        product=product,
        product_meant=meant,
        genre=genre,
        must_carry=groups,
        accepts=accepts,
        avoid=avoid,
        budget_eur_per_kg=None if budget is None else float(budget),
        held_out=held_out,
    )


def _must_carry(raw: Any, names: set[str], where: str) -> tuple[tuple[str, ...], ...]:
    groups = raw or []
    if not isinstance(groups, list) or not all(
        isinstance(group, list) and group and all(isinstance(name, str) for name in group)
        for group in groups
    ):
        raise BriefLabelError(f"{where}: 'must_carry' must be a list of lists of names")
    strangers = sorted({name for group in groups for name in group} - names)
    if strangers:
        raise BriefLabelError(f"{where}: must_carry names no catalogue material: {strangers}")
    return tuple(tuple(group) for group in groups)


_LABELS = frozenset(
    {
        "id",
        "text",
        "kind",
        "product",
        "product_meant",
        "genre",
        "must_carry",
        "accepts",
        "avoid",
        "budget_eur_per_kg",
        "held_out",
    }
)


def _enum(enum: type[_E], value: Any, label: str, where: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise BriefLabelError(f"{where}: {label} {value!r} is not one of {allowed}") from None


def _product(value: Any, label: str, where: str) -> ProductType:
    return _enum(ProductType, value, label, where)


# ---------------------------------------------------------------------------------------
# The reference a perfumer judges by: today's catalogue, knowledge and structures
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    catalogue: Catalogue
    knowledge: KnowledgeBook
    structures: StructureBook
    vocabulary: Vocabulary

    @classmethod
    def load(cls) -> Reference:
        from fragrance_ai.domain.catalogue_file import load_catalogue
        from fragrance_ai.domain.material_knowledge_file import load_knowledge
        from fragrance_ai.domain.structures import load_structures

        catalogue = load_catalogue()
        return cls(
            catalogue=catalogue,
            knowledge=load_knowledge(),
            structures=load_structures(),
            vocabulary=Vocabulary.build(catalogue),
        )

    def knowledge_of(self, cas: str) -> MaterialKnowledge | None:
        return self.knowledge.get(cas)

    def carry_percent(self, cas: str) -> float:
        known = self.knowledge.get(cas)
        return known.carry_percent if known is not None else CARRY_PERCENT[Strength.MEDIUM]

    def most_allowed(self, cas: str, formula: Formula) -> float:
        """The most of a material a formula of this product and dosage may hold: its
        compliance cap there, and the top of its usual use range."""
        from fragrance_ai.domain.compliance import max_percent_in_concentrate

        material = self.catalogue.get(cas)
        if material is None:
            return 0.0
        cap = max_percent_in_concentrate(
            material, formula.product, formula.dosage_percent, self.catalogue
        )
        return min(cap, material.typical_use_max_percent)

    def cas_of(self, name: str) -> str | None:
        material = self.catalogue.find(name)
        return material.cas if material is not None else None


# ---------------------------------------------------------------------------------------
# Checks of one option (a reason when it fails, None when it passes)
# ---------------------------------------------------------------------------------------


# Formulas are weighed in hundredths: a dose within this of a bound is at it.
ROUNDING = 0.01


def check_carries_named(formula: Formula, brief: ReviewBrief, ref: Reference) -> str | None:
    """Each must-carry group has a member at or above its carrying dose (or at the most its
    compliance cap and its use range allow here, where that is less)."""
    percent = _percent_by_cas(formula)
    missing: list[str] = []
    for group in brief.must_carry:
        best: tuple[float, str, float, float] | None = None
        for name in group:
            cas = ref.cas_of(name)
            if cas is None or cas not in percent:
                continue
            # The carrying dose, or as much as the material may take here where that is less
            # (its compliance cap in this product, or its usual use range): a named note
            # "carries" at the most it is allowed.
            carry = min(ref.carry_percent(cas), ref.most_allowed(cas, formula) - ROUNDING)
            ratio = percent[cas] / carry
            if best is None or ratio > best[0]:
                best = (ratio, name, percent[cas], carry)
        if best is None:
            missing.append(f"none of {_names(group)}")
        elif best[0] < 1.0:
            _, name, dose, carry = best
            missing.append(f"{name} at {dose:.2f} % (carries at {carry:g} %)")
    return "; ".join(missing) or None


def check_no_clash(formula: Formula, brief: ReviewBrief, ref: Reference) -> str | None:
    """No material of a clash class the brief did not ask for (a material the brief names is
    asked for), no nitro musk unless named, nothing the brief forbids."""
    named = named_materials(brief, ref)
    problems: list[str] = []
    for line in formula.lines:
        if line.cas in SOLVENT_CAS:
            continue
        known = ref.knowledge_of(line.cas)
        if known is None:
            problems.append(f"{line.name}: no perfumery knowledge")
            continue
        if line.cas not in named:
            clashes = [c.value for c in known.clashes if c not in brief.accepts]
            if clashes:
                problems.append(f"{line.name} {line.percent:.2f} % ({', '.join(clashes)})")
            if known.nitro_musk:
                problems.append(f"{line.name} {line.percent:.2f} % (nitro musk)")
        material = ref.catalogue.get(line.cas)
        first_family = material.families[0] if material is not None else ""
        forbidden = [a for a in brief.avoid if a in (line.name, first_family)]
        if forbidden:
            problems.append(f"{line.name} {line.percent:.2f} % (the brief says no {forbidden[0]})")
    return "; ".join(problems) or None


def check_structure(formula: Formula, brief: ReviewBrief, ref: Reference) -> str | None:
    """Base tier and musk shares within the genre's ranges (5 points either way), and a
    leave-on product's musk at least its product base's floor."""
    shares = perfume_shares(formula, ref)
    problems: list[str] = []
    structure = ref.structures.get(brief.genre) if brief.genre else None
    if structure is not None:
        for label, share, (low, high) in (
            ("base", shares.base, structure.base_percent),
            ("musk", shares.musk, structure.musk_percent),
        ):
            tolerance = STRUCTURE_TOLERANCE_POINTS
            if not low - tolerance <= share <= high + tolerance:
                problems.append(
                    f"{label} {share:.1f} % outside {structure.id}'s {low:g}-{high:g} % "
                    f"(±{tolerance:g})"
                )
    floor = ref.structures.product_base(brief.product_meant).leave_on_musk_percent
    if shares.musk < floor:
        problems.append(f"musk {shares.musk:.1f} % under {floor:g} % for a leave-on product")
    return "; ".join(problems) or None


def check_crystalline(formula: Formula, brief: ReviewBrief, ref: Reference) -> str | None:
    """Crystalline materials within what the product base takes without a solvent (a solvent
    line raises the cap by its own share)."""
    crystalline = sum(
        line.percent
        for line in formula.lines
        if (known := ref.knowledge_of(line.cas)) is not None and known.form is Form.CRYSTALLINE
    )
    solvent = sum(line.percent for line in formula.lines if line.cas in SOLVENT_CAS)
    cap = ref.structures.product_base(brief.product_meant).crystalline_cap_percent + solvent
    if crystalline > cap + 1e-9:
        return f"crystalline {crystalline:.1f} % over {cap:g} % for {brief.product_meant.value}"
    return None


def check_cost(formula: Formula, brief: ReviewBrief, ref: Reference) -> str | None:
    """Cost per kg within the product base's ceiling and the brief's own budget (10 %), and
    no material dearer than the product base takes."""
    base = ref.structures.product_base(brief.product_meant)
    try:
        cost = cost_per_kg_eur(formula, ref.catalogue)
    except KeyError as error:
        return f"a material is not in today's catalogue ({error})"
    problems: list[str] = []
    ceiling = base.cost_ceiling_eur_per_kg
    if ceiling is not None and cost > ceiling:
        problems.append(
            f"{cost:.2f} EUR/kg over the {brief.product_meant.value} ceiling {ceiling:g}"
        )
    budget = brief.budget_eur_per_kg
    if budget is not None and cost > budget * (1 + BUDGET_TOLERANCE):
        problems.append(f"{cost:.2f} EUR/kg over the budget of {budget:g}")
    dearest = base.max_material_price_eur_per_kg
    if dearest is not None:
        for line in formula.lines:
            material = ref.catalogue.get(line.cas)
            if material is not None and material.price_per_kg_eur > dearest:
                problems.append(
                    f"{line.name} at {material.price_per_kg_eur:g} EUR/kg (most {dearest:g})"
                )
    return "; ".join(problems) or None


def idea_of(formula: Formula, brief: ReviewBrief, ref: Reference) -> tuple[str, ...]:
    """The option's idea: its IDEA_SIZE materials with the highest dose over carrying dose,
    leaving out the brief's must-carry materials (shared by every option by design)."""
    required = {cas for group in brief.must_carry for name in group if (cas := ref.cas_of(name))}
    ranked = sorted(
        (line for line in formula.lines if line.cas not in required | SOLVENT_CAS),
        key=lambda line: (-line.percent / ref.carry_percent(line.cas), line.name),
    )
    return tuple(line.name for line in ranked[:IDEA_SIZE])


def check_distinct(
    formulas: Sequence[Formula], brief: ReviewBrief, ref: Reference
) -> list[str | None]:
    """Per option: its idea shares at most one material with every other option's idea."""
    ideas = [idea_of(formula, brief, ref) for formula in formulas]
    verdicts: list[str | None] = []
    for index, idea in enumerate(ideas):
        twins = [
            f"option {other + 1} ({', '.join(sorted(set(idea) & set(ideas[other])))})"
            for other in range(len(ideas))
            if other != index and len(set(idea) & set(ideas[other])) > IDEA_SHARED_AT_MOST
        ]
        verdicts.append(
            f"idea {', '.join(idea)} shared with " + "; ".join(twins) if twins else None
        )
    return verdicts


def check_honest_reading(read: dict[str, Any], brief: ReviewBrief, options: int) -> str | None:
    """A brief with a direction is designed from families it read (not defaulted); a brief
    with none gets no options and is asked for a direction."""
    if not brief.has_direction:
        if options:
            return f"no direction in the text, yet {options} options"
        if not needs_direction(read):
            return "no options, but the reading does not ask for a direction"
        return None
    if "families" in (read.get("defaults_used") or []):
        return f"families defaulted to {', '.join(read.get('families') or [])}"
    return None


def needs_direction(read: dict[str, Any]) -> bool:
    """The reading says the text gives no direction: not understood (the job asks what the
    brief needs), or a reading that flags it in so many words."""
    return not read.get("understood", True) or bool(read.get("needs_direction"))


def check_words_accounted(text: str, read: dict[str, Any], ref: Reference) -> str | None:
    missing = unaccounted_words(text, read, ref.vocabulary)
    return f"not accounted for: {', '.join(missing)}" if missing else None


def named_materials(brief: ReviewBrief, ref: Reference) -> set[str]:
    """CAS of the materials the brief asks for: its must-carry groups and any catalogue
    material the text names (in English or Korean)."""
    named = {cas for group in brief.must_carry for name in group if (cas := ref.cas_of(name))}
    clean = normalise_text(brief.text)
    for phrase, cas in ref.vocabulary.material_phrases.items():
        if _occurs(phrase, clean):
            named.add(cas)
    return named


@dataclass(frozen=True)
class Shares:
    base: float
    musk: float


def perfume_shares(formula: Formula, ref: Reference) -> Shares:
    """Base tier and musk shares, percent of the perfume (solvent lines left out); a musk is a
    material whose first family is musky."""
    perfume = [line for line in formula.lines if line.cas not in SOLVENT_CAS]
    total = sum(line.percent for line in perfume) or 1.0
    base = sum(line.percent for line in perfume if line.tier is Tier.BASE)
    musk = 0.0
    for line in perfume:
        material = ref.catalogue.get(line.cas)
        if material is not None and material.families[0] == MUSK_FAMILY:
            musk += line.percent
    return Shares(base=100 * base / total, musk=100 * musk / total)


def _percent_by_cas(formula: Formula) -> dict[str, float]:
    percent: dict[str, float] = {}
    for line in formula.lines:
        percent[line.cas] = percent.get(line.cas, 0.0) + line.percent
    return percent


def _names(group: Iterable[str]) -> str:
    return ", ".join(group)


# ---------------------------------------------------------------------------------------
# Words: every content word of the text appears in what was read
# ---------------------------------------------------------------------------------------


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOP_WORDS_EN = _word_set(
    """
    a an the and or but nor of for with without to in on at by from into onto over under up
    through after before during while near across along between behind beside inside outside
    within
    down out as than then so too very really quite just also plus little bit lot lots some any
    all one more less much many most least few this that these those it its it's i me my we us
    our you your he she him her his they them their who whom which what when where how
    something someone somebody anything like likely please want wants would should could can
    may might must will shall make makes made making give get let need needs is are was were
    be been being am do does did have has had smell smells smelling smelt scent scents scented
    fragrance fragrances perfume perfumes note notes touch hint thread trace whisper kind sort
    type style way vibe feel feels feeling think inspired version option options idea spirit
    vein such same no not nothing avoid never only lots plenty around about approximately
    top heart base underneath middle drydown dry-down opening day days
    """
)
# ("day", "days": "a wedding day" says when, not what it smells of; the product's own reading
# leaves them out of its unread words for the same reason, fragrance_ai/domain/text.py.)
# Korean particles and endings stripped from a word before it is judged, longest first; the
# stop words are function words and the generic words of a brief (향, 향수: scent, perfume).
KOREAN_ENDINGS = tuple(
    sorted(
        _word_set(
            """
    은 는 이 가 을 를 의 에 에서 에게 으로 로 와 과 도 만 처럼 같은 같이 한 하고 이고 이며
    이랑 랑 나 이나 으로서 로서 부터 까지 보다 처럼요 요 게 한테 께 듯한 듯 적인 스러운 하는
    """
        ),
        key=lambda ending: (-len(ending), ending),
    )
)
STOP_WORDS_KO = _word_set(
    """
    향 향수 향기 냄새 느낌 같은 같이 주세요 해주세요 만들어 만들어주세요 원해요 좀 너무 아주 정말
    그리고 또는 및 위한 위해 용 있는 없는 없이 빼고 제외 말고 좋게 좋은 앞 앞에 뒤 온 속 듯한 듯
    앉은 새로 출시할 출시 어우러진 나는
    """
)
# Words of a budget or a dosage: accounted for when the reading found the figure.
FIGURE_WORDS = _word_set(
    """
    eur euro euros kg kilo per under below max maximum budget cheap cheaper inexpensive
    affordable economical economy value low cost dosage concentration 유로 이하 이내 미만 가성비
    저렴 저렴한 저가 경제적 킬로 kg당
    """
)
_TOKEN = re.compile(r"[a-z]+|[\uac00-\ud7a3]+")
_HANGUL = re.compile("[\uac00-\ud7a3]")
EVOCATIONS_FILE = ("data", "perfumery", "evocations.yaml")


@dataclass(frozen=True)
class Vocabulary:
    """The surface words behind each value a reading can hold, from the parser's lexicons."""

    # (kind, value) -> normalised phrases that express it.
    phrases: dict[tuple[str, str], frozenset[str]]
    # Normalised material names, synonyms and note words -> CAS (to tell what a text names).
    material_phrases: dict[str, str]

    @classmethod
    def build(cls, catalogue: Catalogue) -> Vocabulary:
        phrases: dict[tuple[str, str], set[str]] = {}

        def add(kind: str, value: str, *words: str) -> None:
            bucket = phrases.setdefault((kind, value), set())
            bucket.update(normalise_text(word).strip() for word in (value, *words) if word)

        material_phrases = _material_phrases(catalogue)
        for material in catalogue:
            add("note", material.name, *material.names())
        for word, target in (*NOTE_WORDS.items(), *NOTES_KO.items()):
            resolved = NOTE_WORDS.get(target, target) if target else None
            found = catalogue.find(resolved) if resolved else None
            # A note with no material is read (unmatched) by its English word.
            add("note", found.name if found is not None else (target or word), word)
        english: list[tuple[str, dict[str, tuple[str, ...]]]] = [
            ("family", FAMILY_WORDS),
            ("mood", MOOD_WORDS),
            ("season", SEASON_WORDS),
            ("intensity", {level.value: words for level, words in INTENSITY_WORDS.items()}),
            ("product", {product.value: words for product, words in PRODUCT_WORDS.items()}),
        ]
        korean: list[tuple[str, dict[str, str]]] = [
            ("family", FAMILIES_KO),
            ("mood", MOODS_KO),
            ("season", SEASONS_KO),
            ("intensity", INTENSITY_KO),
            ("product", {word: product.value for word, product in PRODUCTS_KO.items()}),
        ]
        for kind, english_words in english:
            for value, words in english_words.items():
                add(kind, value, *words)
        for kind, korean_words in korean:
            for word, value in korean_words.items():
                add(kind, value, word)
        # The parser's own lexicon, where it has one: the phrases it reads as each value
        # (readings that win over a synonym, plurals), so a word read is never judged lost.
        for phrase, term in _parser_lexicon(catalogue).items():
            kind = "note" if term[0] == "unmatched" else term[0]
            add(kind, term[1], phrase)
        for entry in _evocation_entries():
            entry_id = str(entry["id"])
            add(
                "evocation",
                entry_id,
                entry_id.replace("_", " "),
                *[str(p) for p in entry.get("phrases") or []],
                *[str(p) for p in entry.get("phrases_ko") or []],
            )
        return cls(
            phrases={key: frozenset(p for p in value if p) for key, value in phrases.items()},
            material_phrases=material_phrases,
        )

    def read_phrases(self, read: dict[str, Any]) -> set[str]:
        """Every phrase that expresses something the reading holds, its own words included."""
        defaults = set(read.get("defaults_used") or [])
        held: list[tuple[str, str]] = []
        families = [] if "families" in defaults else list(read.get("families") or [])
        held += [("family", str(v)) for v in families]
        for kind, key in (("note", "notes"), ("note", "preferred_notes"), ("mood", "moods")):
            held += [(kind, str(v)) for v in read.get(key) or []]
        held += [("season", str(v)) for v in read.get("seasons") or []]
        held += [("evocation", str(v)) for v in read.get("evocations") or []]
        if "intensity" not in defaults and read.get("intensity"):
            held.append(("intensity", str(read["intensity"])))
        if "product" not in defaults and read.get("product"):
            held.append(("product", str(read["product"])))
        for value in read.get("avoid") or []:
            held += [(kind, str(value)) for kind in ("family", "note")]
        for value in read.get("unmatched_notes") or []:
            held.append(("note", str(value)))
        phrases: set[str] = set()
        for held_key in held:
            phrases.update(self.phrases.get(held_key, frozenset()))
            phrases.add(normalise_text(held_key[1]).strip())
        plain = [
            *(read.get(MATCHED_PHRASES) or []),
            *(read.get("unmatched_notes") or []),
            *(read.get("unread_words") or []),
            *(read.get("avoid") or []),
            *(read.get("hints") or []),
        ]
        phrases.update(normalise_text(str(word)).strip() for word in plain)
        if read.get("structure"):
            phrases.add(normalise_text(str(read["structure"]).replace("_", " ")).strip())
        for clash in read.get("accepted_clashes") or []:
            phrases.update(normalise_text(part).strip() for part in str(clash).split("_"))
        return {phrase for phrase in phrases if phrase}


def _material_phrases(catalogue: Catalogue) -> dict[str, str]:
    """Names, synonyms and note words (English and Korean) of catalogue materials -> CAS."""
    phrases: dict[str, str] = {}
    for material in catalogue:
        for name in material.names():
            phrases.setdefault(normalise_text(name).strip(), material.cas)
    for word, target in (*NOTE_WORDS.items(), *NOTES_KO.items()):
        resolved = NOTE_WORDS.get(target, target) if target else None
        found = catalogue.find(resolved) if resolved else None
        if found is not None:
            phrases.setdefault(normalise_text(word).strip(), found.cas)
    return {phrase: cas for phrase, cas in phrases.items() if len(phrase) >= 3}


def _parser_lexicon(catalogue: Catalogue) -> dict[str, tuple[str, str]]:
    """phrase -> (kind, value) as today's deterministic parser reads it (a private table:
    read defensively, and the review still works from the public word lists without it)."""
    from fragrance_ai.domain import parser

    try:
        lexicon = parser.DeterministicBriefParser(catalogue)._lexicon
    except Exception:  # the parser is being changed by others: fall back to the word lists
        return {}
    table: dict[str, tuple[str, str]] = {}
    for phrase, term in lexicon.items():
        kind, value = getattr(term, "kind", None), getattr(term, "value", None)
        if isinstance(phrase, str) and isinstance(kind, str) and isinstance(value, str):
            table[phrase] = (kind, value)
    return table


def _evocation_entries() -> list[dict[str, Any]]:
    source = resources.files("fragrance_ai").joinpath(*EVOCATIONS_FILE)
    if not source.is_file():
        return []
    document = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    entries = document.get("evocations") or []
    return [entry for entry in entries if isinstance(entry, dict) and entry.get("id")]


def unaccounted_words(text: str, read: dict[str, Any], vocabulary: Vocabulary) -> list[str]:
    """Content words of the text that nothing the reading holds accounts for, in order."""
    clean = normalise_text(text)
    phrases = vocabulary.read_phrases(read)
    covered = _covered(clean, phrases)
    words = {word for phrase in phrases for word in _TOKEN.findall(phrase)}
    figures_read = any(read.get(k) is not None for k in ("budget_per_kg_eur", "dosage_percent"))
    missing: list[str] = []
    for match in _TOKEN.finditer(clean):
        token = match.group(0)
        if any(start <= match.start() < end for start, end in covered):
            continue
        if _HANGUL.match(token):
            stem = _korean_stem(token)
            if not stem or stem in STOP_WORDS_KO or token in STOP_WORDS_KO:
                continue
            if figures_read and (token in FIGURE_WORDS or stem in FIGURE_WORDS):
                continue
            if any(word in token for word in words if _HANGUL.match(word)):
                continue
        else:
            if token in STOP_WORDS_EN or len(token) < 2:
                continue
            if figures_read and token in FIGURE_WORDS:
                continue
            if any(variant in words for variant in _english_variants(token)):
                continue
        if token not in missing:
            missing.append(token)
    return missing


def _covered(clean: str, phrases: Iterable[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for phrase in phrases:
        if _HANGUL.search(phrase):
            pattern = re.escape(phrase)
        else:
            pattern = r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])"
        spans.extend(m.span() for m in re.finditer(pattern, clean))
    return spans


def _occurs(phrase: str, clean: str) -> bool:
    return bool(_covered(clean, [phrase]))


def _english_variants(token: str) -> Iterator[str]:
    yield token
    for ending, replacement in (("ies", "y"), ("es", ""), ("s", ""), ("er", ""), ("y", "")):
        if token.endswith(ending) and len(token) - len(ending) >= 3:
            yield token[: -len(ending)] + replacement


def _korean_stem(token: str) -> str:
    for ending in KOREAN_ENDINGS:
        if token.endswith(ending) and len(token) > len(ending):
            return token[: -len(ending)]
    return token


# ---------------------------------------------------------------------------------------
# Reviewing what a revision designed
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one revision made of one brief: its reading and its options."""

    brief_id: str
    read: dict[str, Any]
    options: list[Formula]
    error: str | None = None


@dataclass
class OptionReview:
    brief_id: str
    kind: Kind
    held_out: bool
    # 1-based; 0 for a brief judged without options.
    option: int
    verdicts: dict[str, str | None] = field(default_factory=dict)

    @property
    def passed_all(self) -> bool:
        return all(reason is None for reason in self.verdicts.values())


def review(brief: ReviewBrief, outcome: Outcome, ref: Reference) -> list[OptionReview]:
    """Every check for every option of a brief; a brief with a direction and no options is one
    option failing every check, a brief with none and no options one passing them all."""

    def row(option: int, verdicts: dict[str, str | None]) -> OptionReview:
        return OptionReview(brief.id, brief.kind, brief.held_out, option, verdicts)

    honest = check_honest_reading(outcome.read, brief, len(outcome.options))
    if not outcome.options:
        if not brief.has_direction and honest is None:
            return [row(0, dict.fromkeys(CHECKS))]
        reason = outcome.error or honest or _no_options_reason(outcome.read)
        return [row(0, dict.fromkeys(CHECKS, "no options: " + reason))]
    words = check_words_accounted(brief.text, outcome.read, ref)
    distinct = check_distinct(outcome.options, brief, ref)
    rows = []
    for index, formula in enumerate(outcome.options):
        rows.append(
            row(
                index + 1,
                {
                    CARRIES_NAMED: check_carries_named(formula, brief, ref),
                    NO_CLASH: check_no_clash(formula, brief, ref),
                    STRUCTURE: check_structure(formula, brief, ref),
                    CRYSTALLINE: check_crystalline(formula, brief, ref),
                    COST: check_cost(formula, brief, ref),
                    DISTINCT: distinct[index],
                    HONEST_READING: honest,
                    WORDS_ACCOUNTED: words,
                },
            )
        )
    return rows


def _no_options_reason(read: dict[str, Any]) -> str:
    if needs_direction(read):
        return "the reading asks for a direction"
    return "the design returned none"


# ---------------------------------------------------------------------------------------
# Running the product's pipeline: after in-process, before in a worktree of c416dec
# ---------------------------------------------------------------------------------------

# The read + design of revision c416dec, run in its worktree with only the APIs it has: the
# deterministic parser, design_options with the balanced mode's SearchConfig, and the option
# count and rule-based seeds of its settings, as its design_formulas step builds them.
BEFORE_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import fragrance_ai
    from fragrance_ai.domain.catalogue_file import load_catalogue
    from fragrance_ai.domain.parser import DeterministicBriefParser
    from fragrance_ai.domain.products import ProductType
    from fragrance_ai.optimize.design import design_options
    from fragrance_ai.optimize.evaluate import Objective
    from fragrance_ai.optimize.search import SearchConfig
    from fragrance_ai.settings import InferenceMode, load_settings

    request = json.load(open(sys.argv[1], encoding="utf-8"))
    if not fragrance_ai.__file__.startswith(request["tree"]):
        sys.exit("fragrance_ai imported from " + fragrance_ai.__file__)
    catalogue = load_catalogue()
    parser = DeterministicBriefParser(catalogue)
    settings = load_settings()
    search = settings.optimizer.modes[InferenceMode.BALANCED]
    config = SearchConfig(
        population=search.population,
        generations=search.generations,
        objectives=tuple(Objective(name) for name in search.objectives),
        mutation_steps=search.mutation_steps,
        seed=request["seed"],
    )
    results = []
    for item in request["briefs"]:
        product = ProductType(item["product"]) if item["product"] else None
        brief = parser.parse(item["text"], product=product)
        options, error = [], None
        if brief.understood:
            try:
                design = design_options(
                    catalogue,
                    brief,
                    config,
                    count=settings.optimizer.options,
                    seeds=settings.designer.variants,
                )
                options = [o.designed.formula.model_dump(mode="json") for o in design.options]
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
        results.append(
            {"id": item["id"], "read": brief.model_dump(mode="json"), "options": options,
             "error": error}
        )
    json.dump(results, open(sys.argv[2], "w", encoding="utf-8"))
    """
)


LITERAL_READING = "the deterministic parser (literal words, evocation phrases)"
# The reading's matched clauses, kept beside the brief (the job keeps them in its reading path):
# words a paraphrase matched are accounted for by that match.
MATCHED_PHRASES = "matched_phrases"

Paraphraser = Callable[[str, CreativeBrief], tuple[CreativeBrief, list[str]]]


class AfterPipeline:
    """The working tree's read + design, in-process, as the product runs it: the deterministic
    parser, then (where the working tree has it) the paraphrase matcher every mode of the
    ensemble applies, then design_options with the balanced mode's settings."""

    def __init__(self, seed: int, *, paraphrases: bool = True) -> None:
        self.seed = seed
        self.paraphrases = paraphrases
        self.reading = LITERAL_READING

    def run(self, briefs: Sequence[ReviewBrief]) -> list[Outcome]:
        from fragrance_ai.domain.catalogue_file import load_catalogue
        from fragrance_ai.domain.parser import DeterministicBriefParser
        from fragrance_ai.optimize.design import design_options
        from fragrance_ai.optimize.evaluate import Objective
        from fragrance_ai.optimize.search import SearchConfig
        from fragrance_ai.settings import InferenceMode, load_settings

        catalogue = load_catalogue()
        parser = DeterministicBriefParser(catalogue)
        settings = load_settings()
        paraphrase: Paraphraser | None = None
        if self.paraphrases:
            paraphrase, self.reading = paraphrase_step(catalogue)
        search = settings.optimizer.modes[InferenceMode.BALANCED]
        config = SearchConfig(
            population=search.population,
            generations=search.generations,
            objectives=tuple(Objective(name) for name in search.objectives),
            mutation_steps=search.mutation_steps,
            seed=self.seed,
        )
        outcomes = []
        for brief in briefs:
            read = parser.parse(brief.text, product=brief.product)
            matched: list[str] = []
            if paraphrase is not None:
                read, matched = paraphrase(brief.text, read)
            options: list[Formula] = []
            error = None
            if read.understood and not getattr(read, "needs_direction", False):
                try:
                    design = design_options(
                        catalogue,
                        read,
                        config,
                        count=settings.optimizer.options,
                        seeds=settings.designer.variants,
                    )
                    options = [option.designed.formula for option in design.options]
                except Exception as exc:  # the review reports it as the brief's failure
                    error = f"{type(exc).__name__}: {exc}"
            held = {**read.model_dump(mode="json"), MATCHED_PHRASES: matched}
            outcomes.append(Outcome(brief.id, held, options, error))
        return outcomes


def paraphrase_step(catalogue: Catalogue) -> tuple[Paraphraser | None, str]:
    """The ensemble's paraphrase step (evocations a clause paraphrases, applied to the literal
    reading; an entry read literally is not matched again), and the reading in words; None
    and why where the working tree has no matcher or its model does not load."""
    try:
        from fragrance_ai.llm.ensemble import apply_paraphrases
        from fragrance_ai.llm.evocation_embedding import ParaphraseReader
        from fragrance_ai.settings import load_settings

        reader = ParaphraseReader(load_settings())
        matcher = reader.get()
    except (ImportError, AttributeError, TypeError) as error:
        return None, f"{LITERAL_READING}; no paraphrase matcher ({error})"
    if matcher is None:
        why = reader.unavailable or "off in the settings"
        return None, f"{LITERAL_READING}; no paraphrase matcher ({why})"

    def paraphrase(text: str, brief: CreativeBrief) -> tuple[CreativeBrief, list[str]]:
        # The product's own step, so the review reads as the product does.
        applied, outcome = apply_paraphrases(text, brief, matcher, catalogue)
        return applied, [match.phrase for match in outcome.matches]

    return paraphrase, f"{LITERAL_READING} + the paraphrase matcher ({matcher.version})"


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """A detached worktree of the revision, removed afterwards whatever happens."""
    parent = Path(tempfile.mkdtemp(prefix="formula-review-"))
    tree = parent / revision
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), revision],
        check=True,
    )
    try:
        yield tree
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
        )
        shutil.rmtree(parent, ignore_errors=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)


def start_before(
    tree: Path, briefs: Sequence[ReviewBrief], seed: int, scratch: Path
) -> subprocess.Popen[bytes]:
    request = {
        "tree": str(tree),
        "seed": seed,
        "briefs": [
            {"id": b.id, "text": b.text, "product": b.product.value if b.product else None}
            for b in briefs
        ],
    }
    (scratch / "request.json").write_text(json.dumps(request), encoding="utf-8")
    (scratch / "before.py").write_text(BEFORE_SCRIPT, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [
        sys.executable,
        str(scratch / "before.py"),
        str(scratch / "request.json"),
        str(scratch / "result.json"),
    ]
    return subprocess.Popen(command, cwd=tree, env=env)


def finish_before(process: subprocess.Popen[bytes], scratch: Path) -> list[Outcome]:
    code = process.wait(timeout=3600)
    if code != 0:
        raise RuntimeError(f"the {REVISION_BEFORE} pipeline exited with {code}")
    raw = json.loads((scratch / "result.json").read_text(encoding="utf-8"))
    return [
        Outcome(
            item["id"],
            item["read"],
            [Formula.model_validate(option) for option in item["options"]],
            item["error"],
        )
        for item in raw
    ]


# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------


def share(rows: Sequence[OptionReview], check: str | None = None) -> str:
    if not rows:
        return "-"
    passed = sum(1 for r in rows if (r.passed_all if check is None else r.verdicts[check] is None))
    return f"{100 * passed / len(rows):.0f} % ({passed}/{len(rows)})"


def report(
    before: Sequence[OptionReview],
    after: Sequence[OptionReview],
    *,
    seed: int,
    head: str,
    reading: str,
) -> str:
    held_before = [r for r in before if r.held_out]
    held_after = [r for r in after if r.held_out]
    lines = [
        f"Formula review: before = {REVISION_BEFORE}, after = working tree on {head}; "
        f"seed {seed}; balanced mode; reading: {reading}",
        "",
        "| check | before | after | held-out before | held-out after |",
        "| --- | --- | --- | --- | --- |",
    ]
    for check in (*CHECKS, None):
        name = check or "**every check**"
        lines.append(
            f"| {name} | {share(before, check)} | {share(after, check)} | "
            f"{share(held_before, check)} | {share(held_after, check)} |"
        )
    lines += [
        "",
        "| kind | briefs | every check before | every check after |",
        "| --- | --- | --- | --- |",
    ]
    for label, kinds in KIND_GROUPS.items():
        rows_before = [r for r in before if r.kind in kinds]
        rows_after = [r for r in after if r.kind in kinds]
        count = len({r.brief_id for r in rows_after})
        lines.append(f"| {label} | {count} | {share(rows_before)} | {share(rows_after)} |")
    failing = [
        (r, check, reason)
        for r in after
        for check, reason in r.verdicts.items()
        if reason is not None
    ]
    lines += ["", f"Failing after ({len(failing)} check failures):"]
    for row, check, reason in failing:
        where = f"option {row.option}" if row.option else "no options"
        held = ", held out" if row.held_out else ""
        lines.append(f"- {row.brief_id} ({where}{held}): {check}: {reason}")
    return "\n".join(lines)


def _head() -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--briefs", type=int, default=None, help="review the first N briefs")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", type=Path, default=None, help="write the full results here")
    parser.add_argument(
        "--no-paraphrases",
        action="store_true",
        help="read after with the literal parser only, not the paraphrase matcher",
    )
    parser.add_argument(
        "--after-only",
        action="store_true",
        help="review the working tree only, without the before revision (for quick iteration)",
    )
    args = parser.parse_args(argv)
    # The paraphrase matcher's model loads through transformers: its load report and progress
    # bar are not the review's.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

    ref = Reference.load()
    briefs = load_briefs(catalogue=ref.catalogue, structures=ref.structures)
    if args.briefs is not None:
        briefs = briefs[: args.briefs]
    after_pipeline = AfterPipeline(args.seed, paraphrases=not args.no_paraphrases)
    if args.after_only:
        _report_after_only(briefs, after_pipeline.run(briefs), ref, args.json)
        return
    with worktree(REVISION_BEFORE) as tree, tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        process = start_before(tree, briefs, args.seed, scratch)
        try:
            after_outcomes = after_pipeline.run(briefs)
        except BaseException:
            process.kill()
            process.wait()
            raise
        before_outcomes = finish_before(process, scratch)

    def judged(outcomes: Sequence[Outcome]) -> list[OptionReview]:
        by_id = {outcome.brief_id: outcome for outcome in outcomes}
        return [row for brief in briefs for row in review(brief, by_id[brief.id], ref)]

    before, after = judged(before_outcomes), judged(after_outcomes)
    head = _head()
    print(report(before, after, seed=args.seed, head=head, reading=after_pipeline.reading))
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "seed": args.seed,
                    "before_revision": REVISION_BEFORE,
                    "after_head": head,
                    "reading": after_pipeline.reading,
                    "briefs": [
                        {
                            **asdict(brief),
                            "before": _outcome_json(before_outcomes, before, brief.id),
                            "after": _outcome_json(after_outcomes, after, brief.id),
                        }
                        for brief in briefs
                    ],
                },
                ensure_ascii=False,
                indent=1,
                default=_json_default,
            ),
            encoding="utf-8",
        )


def _report_after_only(
    briefs: Sequence[ReviewBrief], outcomes: Sequence[Outcome], ref: Reference, path: Path | None
) -> None:
    by_id = {outcome.brief_id: outcome for outcome in outcomes}
    rows = [row for brief in briefs for row in review(brief, by_id[brief.id], ref)]
    for check in CHECKS:
        print(f"{check:16} {share(rows, check)}")
    print(f"{'every check':16} {share(rows)}")
    held = [row for row in rows if row.held_out]
    print(f"{'held-out':16} {share(held)}")
    for row in rows:
        for check, verdict in row.verdicts.items():
            if verdict is not None:
                print(f"  {row.brief_id} option {row.option} {check}: {verdict}")
    if path is not None:
        path.write_text(
            json.dumps(
                [
                    {**asdict(brief), "after": _outcome_json(outcomes, rows, brief.id)}
                    for brief in briefs
                ],
                ensure_ascii=False,
                indent=1,
                default=_json_default,
            ),
            encoding="utf-8",
        )


def _outcome_json(
    outcomes: Sequence[Outcome], rows: Sequence[OptionReview], brief_id: str
) -> dict[str, Any]:
    outcome = next(o for o in outcomes if o.brief_id == brief_id)
    return {
        "read": outcome.read,
        "error": outcome.error,
        "options": [
            [{"cas": line.cas, "name": line.name, "percent": line.percent} for line in f.lines]
            for f in outcome.options
        ],
        "verdicts": [
            {"option": r.option, "verdicts": r.verdicts} for r in rows if r.brief_id == brief_id
        ],
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, StrEnum):
        return value.value
    raise TypeError(f"cannot write {type(value).__name__}")


if __name__ == "__main__":
    main()

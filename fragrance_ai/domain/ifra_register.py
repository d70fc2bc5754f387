"""Every IFRA Standard of the 51st Amendment, from IFRA's own overview, linked to the
catalogue's substances so that no Standard passes silently for want of a data row.

`parse_ifra_overview` reads the packaged CSV (`data/regulatory/ifra_51st_overview.csv`,
written from IFRA's Excel file by `tools/regulatory/ifra_overview.py`); `link_ifra_standards`
merges its rows into the substances the YAML holds:

- a substance that already carries the Standard (its `ifra_note` names the key, or it shares
  a CAS and holds a Standard of its own) keeps its transcription, which has cross-checks and
  notes, and gains the key, the deadlines and the conditions;
- a substance held without a Standard (an EU allergen, say) that shares a CAS gets the
  Standard attached: type, the 18 limits, key, deadlines, conditions;
- a Standard matching no substance becomes a new one, `ifra_std_NNN`;
- a Standard without CAS numbers links through the reviewed `LINKED_WITHOUT_CAS` table, or is
  listed in `NOT_LINKABLE` with why.

`ifra_accounting` says, for each Standard, which of these happened: a test walks it, and
`python -m fragrance_ai.domain.coverage` prints the counts.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from fragrance_ai.domain.catalogue import (
    CatalogueError,
    IfraLimit,
    IfraStandardType,
    Substance,
    is_valid_cas,
)
from fragrance_ai.domain.products import IFRA_CATEGORIES

IFRA_OVERVIEW_FILE = "ifra_51st_overview.csv"
OVERVIEW_SOURCE = (
    "IFRA Standards overview, 51st Amendment (IFRA's Excel file, copy in GitHub "
    "kijjaz/miniPinscher commit 14e0105; the individual Standards prevail)"
)
_COLUMNS = (
    "key",
    "amendment",
    "existing_creations_from",
    "new_creations_from",
    "name",
    "cas",
    "type",
    "critical_effect",
    "prohibited_notes",
    "phototoxic_notes",
    "restricted_notes",
    "specified_notes",
    "contributions",
    "contributions_notes",
    *(f"category_{category}" for category in IFRA_CATEGORIES),
)
_CAS = re.compile(r"\b\d{2,7}-\d{2}-\d\b")
_NUMBER = re.compile(r"^(\d+(?:[.,]\d+)?)\s*(?:\((.*)\))?$")
_SENTENCE_END = re.compile(r"(?<=[.;])\s+(?=[A-Z])")

# Standards with no CAS numbers in the overview, linked to the substances they govern: the
# overview names a group, and these ids are that group's members in our data (reviewed).
LINKED_WITHOUT_CAS: dict[str, tuple[str, ...]] = {
    # Citrus oils and other furocoumarins containing essential oils: the 15 ppm bergapten
    # (5-MOP) limit; the oils' own Standards are linked by their CAS.
    "IFRA_STD_089": ("bergapten",),
    # Pinacea derivatives: the peroxide-value specification of pine-family oils and isolates.
    "IFRA_STD_184": ("pinus_mugo", "pinus_pumila", "turpentine", "pinene"),
    # Allyl esters: free allyl alcohol below 0.1 %.
    "IFRA_STD_188": ("allyl_esters",),
}
# Standards that cannot be linked, with why. Empty today: every Standard of the overview
# either has a CAS or is in LINKED_WITHOUT_CAS. A row without CAS that is in neither fails
# the load, so a new amendment cannot add a silent Standard.
NOT_LINKABLE: dict[str, str] = {}

# Where a Standard prohibits one grade and restricts another and IFRA's CAS numbers tell the
# grades apart, the prohibited grade's CAS numbers (reviewed against the notes).
_PROHIBITED_GRADE_CAS: dict[str, tuple[str, ...]] = {
    # "Verbena oils from Lippia citriodora Kunth. should not be used ... Only Verbena absolutes
    # ... can be used": 8024-12-2 is the oil, 85116-63-8 the extract (absolute).
    "IFRA_STD_083": ("8024-12-2",),
}


class LinkOutcome(StrEnum):
    # An existing transcription of the Standard, kept, with key, deadlines and conditions.
    TRANSCRIBED = "transcribed"
    # Attached to a substance the data held without a Standard.
    ATTACHED = "attached"
    # A new substance made from the overview row.
    NEW = "new"
    NOT_APPLICABLE = "not_applicable"
    # Some substance carries the key (what `ifra_accounting` can tell from merged data).
    LINKED = "linked"


@dataclass(frozen=True)
class IfraStandardRow:
    """One row of IFRA's overview, its text as IFRA writes it."""

    key: str
    amendment: str
    existing_creations_from: date | None
    new_creations_from: date | None
    name: str
    # "; "-separated, exactly as IFRA lists them (with words such as "e.g.:").
    cas_text: str
    # IFRA's own type: "RESTRICTION", "PROHIBITION_SPECIFICATION", ...
    standard_type: str
    critical_effect: str
    prohibited_notes: str
    phototoxic_notes: str
    restricted_notes: str
    specified_notes: str
    contributions: str
    contributions_notes: str
    cells: tuple[str, ...]

    @property
    def cas(self) -> tuple[str, ...]:
        """The valid CAS numbers the row names, in IFRA's order, each once."""
        found = (m.group(0) for m in _CAS.finditer(self.cas_text))
        return tuple(dict.fromkeys(c for c in found if is_valid_cas(c)))

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self.standard_type.split("_"))

    @property
    def phototoxic(self) -> bool:
        return "PHOTOTOXICITY" in self.critical_effect.upper() or bool(self.phototoxic_notes)

    @property
    def substance_type(self) -> IfraStandardType:
        if "RESTRICTION" in self.kinds:
            return IfraStandardType.RESTRICTION
        if "PROHIBITION" in self.kinds:
            return IfraStandardType.PROHIBITION
        return IfraStandardType.SPECIFICATION

    @property
    def amendment_label(self) -> str:
        if self.amendment == "51":
            return "51st Amendment"
        return f"51st Amendment (Standard of the {self.amendment}th)"

    def limits(self) -> tuple[IfraLimit, ...]:
        """The 18 categories' limits, or () for a specification alone."""
        if self.substance_type is IfraStandardType.SPECIFICATION:
            return ()
        source = f"{OVERVIEW_SOURCE}, {self.key} ({self.name})"
        return tuple(
            self._limit(category, cell, source)
            for category, cell in zip(IFRA_CATEGORIES, self.cells, strict=True)
        )

    def prohibited_limits(self) -> tuple[IfraLimit, ...]:
        source = f"{OVERVIEW_SOURCE}, {self.key} ({self.name}): {self.prohibited_notes}"
        return tuple(
            IfraLimit(category, None, source, amendment=self.amendment_label)
            for category in IFRA_CATEGORIES
        )

    def _limit(self, category: str, cell: str, source: str) -> IfraLimit:
        amendment = self.amendment_label
        word = cell.strip().lower()
        if not word:
            if "PROHIBITION" not in self.kinds:
                raise CatalogueError(f"{self.key}: category {category}: empty cell")
            return IfraLimit(category, None, source, amendment=amendment)
        if word == "no restriction":
            return IfraLimit(category, None, source, unrestricted=True, amendment=amendment)
        if word.startswith("see note"):
            note = "IFRA's overview says 'See Notebox' here: the Standard's text sets the level"
            return IfraLimit(category, None, source, note, amendment=amendment, unreadable=True)
        if "prohibited" in word:
            return IfraLimit(category, None, source, amendment=amendment)
        match = _NUMBER.match(word)
        if match is None:
            raise CatalogueError(f"{self.key}: category {category}: unreadable cell {cell!r}")
        value = float(match.group(1).replace(",", "."))
        if not 0 < value <= 100:
            raise CatalogueError(f"{self.key}: category {category}: {cell!r} is not in (0, 100]")
        note = f"as {match.group(2)}" if match.group(2) else ""
        return IfraLimit(category, value, source, note, amendment=amendment)

    def conditions(self) -> tuple[str, ...]:
        """What the Standard asks of a material's quality or grade, as the report prints it:
        the specification note's first sentences, and a prohibition of one grade beside a
        restriction of another."""
        out = []
        if self.specified_notes:
            out.append(f"{self.name} (IFRA {self.key}): {_first_sentences(self.specified_notes)}")
        if self.prohibited_notes and "PROHIBITION" in self.kinds and len(self.kinds) > 1:
            out.append(f"{self.name} (IFRA {self.key}): {_first_sentences(self.prohibited_notes)}")
        return tuple(out)

    def note(self) -> str:
        parts = [
            f"IFRA Standard '{self.name}' ({self.standard_type.lower().replace('_', ' + ')}; "
            f"{self.key}; critical effect: {self.critical_effect.lower()}; amendment "
            f"{self.amendment})."
        ]
        for label, text in (
            ("Prohibition", self.prohibited_notes),
            ("Phototoxicity", self.phototoxic_notes),
            ("Restriction", self.restricted_notes),
            ("Specification", self.specified_notes),
            ("Contributions from other sources", self.contributions_notes),
        ):
            if text:
                parts.append(f"{label} (IFRA overview): {text}")
        return " ".join(parts)


def _first_sentences(text: str, limit: int = 320) -> str:
    """Whole sentences up to about `limit` characters (at least one), paragraphs joined."""
    sentences = _SENTENCE_END.split(text.replace(" | ", " "))
    kept = sentences[0]
    for sentence in sentences[1:]:
        if len(kept) + len(sentence) + 1 > limit:
            return kept + " (see the Standard for the rest)"
        kept = f"{kept} {sentence}"
    return kept


def _date(text: str, key: str, column: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CatalogueError(f"{key}: {column} {text!r} is not an ISO date") from None


def parse_ifra_overview(text: str) -> tuple[IfraStandardRow, ...]:
    """The overview's rows; `#` lines are its provenance header."""
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or tuple(header) != _COLUMNS:
        raise CatalogueError(f"IFRA overview: expected the columns {', '.join(_COLUMNS)}")
    rows: list[IfraStandardRow] = []
    for number, record in enumerate(reader, start=1):
        if len(record) != len(_COLUMNS):
            raise CatalogueError(f"IFRA overview: row {number}: {len(record)} cells")
        value = dict(zip(_COLUMNS, record, strict=True))
        key = value["key"]
        if not re.fullmatch(r"IFRA_STD_\d{3}", key):
            raise CatalogueError(f"IFRA overview: row {number}: key {key!r}")
        rows.append(
            IfraStandardRow(
                key=key,
                amendment=value["amendment"],
                existing_creations_from=_date(
                    value["existing_creations_from"], key, "existing_creations_from"
                ),
                new_creations_from=_date(value["new_creations_from"], key, "new_creations_from"),
                name=value["name"],
                cas_text=value["cas"],
                standard_type=value["type"],
                critical_effect=value["critical_effect"],
                prohibited_notes=value["prohibited_notes"],
                phototoxic_notes=value["phototoxic_notes"],
                restricted_notes=value["restricted_notes"],
                specified_notes=value["specified_notes"],
                contributions=value["contributions"],
                contributions_notes=value["contributions_notes"],
                cells=tuple(value[f"category_{c}"] for c in IFRA_CATEGORIES),
            )
        )
        rows[-1].limits()  # every cell readable, or the load stops naming it
    if len({row.key for row in rows}) != len(rows):
        raise CatalogueError("IFRA overview: a key appears twice")
    return tuple(rows)


@dataclass(frozen=True)
class StandardLink:
    key: str
    name: str
    outcome: LinkOutcome
    substance_ids: tuple[str, ...]
    reason: str = ""


def _keys_of(substance: Substance) -> set[str]:
    return set(re.findall(r"IFRA_STD_\d{3}", f"{substance.ifra_key} {substance.ifra_note}"))


def _with_standard(substance: Substance, row: IfraStandardRow, *, attach: bool) -> Substance:
    keys = [k for k in substance.ifra_key.split(", ") if k]
    first = not keys
    changes: dict[str, object] = {
        "ifra_key": ", ".join([*keys, row.key]) if row.key not in keys else substance.ifra_key,
        "conditions": tuple(dict.fromkeys((*substance.conditions, *row.conditions()))),
    }
    # A substance under two Standards (a combined limit) keeps the first one's deadlines.
    if first:
        changes["ifra_new_creations_from"] = row.new_creations_from
        changes["ifra_existing_creations_from"] = row.existing_creations_from
    if attach:
        changes.update(
            ifra_standard=row.substance_type,
            limits=row.limits(),
            phototoxic=substance.phototoxic or row.phototoxic,
            ifra_note=" ".join(filter(None, (substance.ifra_note, row.note()))),
        )
    return dataclasses.replace(substance, **changes)  # type: ignore[arg-type]


def _with_listed_cas(
    substance: Substance, row: IfraStandardRow, filed: frozenset[str]
) -> Substance:
    """The Standard's other CAS numbers on a transcription that lists fewer: a number the
    catalogue files under another material (8008-26-2, our distilled lime, which IFRA's
    expressed lime Standard lists) is shared by grades; any other is this substance's too
    (oakmoss's 9000-50-4), so a line given by it alone gets this Standard's verdict."""
    extra = [number for number in row.cas if number not in substance.cas]
    if not extra:
        return substance
    shared = tuple(number for number in extra if number in filed)
    own = tuple(number for number in extra if number not in filed)
    return dataclasses.replace(
        substance,
        cas=substance.cas + own,
        shared_cas=tuple(dict.fromkeys((*substance.shared_cas, *shared))),
    )


def _new_substance(
    row: IfraStandardRow, cas: tuple[str, ...], *, prohibited_grade: bool = False
) -> Substance:
    suffix = "_prohibited_grade" if prohibited_grade else ""
    return Substance(
        id=row.key.lower() + suffix,
        name=row.name + (" (prohibited grade)" if prohibited_grade else ""),
        cas=cas,
        ifra_standard=IfraStandardType.PROHIBITION if prohibited_grade else row.substance_type,
        limits=row.prohibited_limits() if prohibited_grade else row.limits(),
        ifra_note=row.note(),
        allergen=None,
        phototoxic=row.phototoxic,
        ifra_key=row.key,
        ifra_new_creations_from=row.new_creations_from,
        ifra_existing_creations_from=row.existing_creations_from,
        conditions=row.conditions(),
    )


def link_with_accounting(
    substances: Sequence[Substance],
    rows: Iterable[IfraStandardRow],
    material_cas: Iterable[str] = (),
) -> tuple[list[Substance], tuple[StandardLink, ...]]:
    """`link_ifra_standards`, and what happened to each Standard. `material_cas` are the
    catalogue materials' own numbers: a number the Standard lists that the catalogue files
    under another material is shared by grades (`Substance.shared_cas`), not this one's."""
    filed = frozenset(material_cas)
    merged = {substance.id: substance for substance in substances}
    links: list[StandardLink] = []
    for row in rows:
        if not row.cas and row.key not in LINKED_WITHOUT_CAS:
            if row.key not in NOT_LINKABLE:
                raise CatalogueError(
                    f"{row.key} ({row.name}) has no CAS number: link it in LINKED_WITHOUT_CAS "
                    "or say why not in NOT_LINKABLE"
                )
            links.append(
                StandardLink(
                    row.key, row.name, LinkOutcome.NOT_APPLICABLE, (), NOT_LINKABLE[row.key]
                )
            )
            continue
        named = set(LINKED_WITHOUT_CAS.get(row.key, ()))
        if named - merged.keys():
            raise CatalogueError(f"{row.key}: no substances {sorted(named - merged.keys())}")
        prohibited_cas = _PROHIBITED_GRADE_CAS.get(row.key, ())
        # Once per row, not per substance: parsing the row's CAS text was most of the
        # catalogue's load time (0.7 s of 1.3), on the first brief's path.
        row_cas = set(row.cas)
        sharing = [s for s in merged.values() if s.id in named or not row_cas.isdisjoint(s.cas)]
        holding = [
            s
            for s in merged.values()
            if row.key in _keys_of(s)
            or (s in sharing and s.ifra_standard is not None and s.id not in named)
        ]
        ids: list[str] = []
        if holding:
            outcome = LinkOutcome.TRANSCRIBED
            for substance in holding:
                merged[substance.id] = _with_standard(substance, row, attach=False)
                ids.append(substance.id)
            if len(holding) == 1:
                merged[holding[0].id] = _with_listed_cas(merged[holding[0].id], row, filed)
        elif sharing:
            outcome = LinkOutcome.ATTACHED
            for substance in sharing:
                attach = substance.ifra_standard is None
                merged[substance.id] = _with_standard(substance, row, attach=attach)
                ids.append(substance.id)
        else:
            outcome = LinkOutcome.NEW
            restricted_cas = tuple(c for c in row.cas if c not in prohibited_cas)
            new = _new_substance(row, restricted_cas)
            merged[new.id] = new
            ids.append(new.id)
        if prohibited_cas:
            grade = _new_substance(row, prohibited_cas, prohibited_grade=True)
            merged[grade.id] = grade
            ids.append(grade.id)
        links.append(StandardLink(row.key, row.name, outcome, tuple(ids)))
    return list(merged.values()), tuple(links)


def link_ifra_standards(
    substances: list[Substance], rows: Iterable[IfraStandardRow], material_cas: Iterable[str] = ()
) -> list[Substance]:
    return link_with_accounting(substances, rows, material_cas)[0]


def ifra_accounting(
    substances: Iterable[Substance], rows: Iterable[IfraStandardRow]
) -> tuple[StandardLink, ...]:
    """For each Standard, the substances that carry its key in the merged data (as a loaded
    catalogue holds them), or why none can: checks the merge from its result."""
    carrying: dict[str, list[str]] = {}
    for substance in substances:
        for key in substance.ifra_key.split(", "):
            if key:
                carrying.setdefault(key, []).append(substance.id)
    out = []
    for row in rows:
        ids = tuple(carrying.get(row.key, ()))
        if ids:
            out.append(StandardLink(row.key, row.name, LinkOutcome.LINKED, ids))
        else:
            reason = NOT_LINKABLE.get(row.key, "")
            out.append(StandardLink(row.key, row.name, LinkOutcome.NOT_APPLICABLE, (), reason))
    return tuple(out)


LEVEL_UNKNOWN_SUFFIX = "__level_unknown"


def level_unknown(substance: Substance) -> Substance:
    """A stand-in for `substance` where a natural is known to contain it at a level the data
    does not give (`percent: unknown` in the catalogue): every category the substance's
    Standard restricts reads as unreadable, so the engine answers `cannot_certify` wherever
    the natural is present, never `compliant`; prohibited and unrestricted cells stay as
    they are. It is counted at the material's own level (an upper bound)."""
    note = (
        f"{substance.name} is a constituent of a natural at a level the data does not give; "
        "a supplier's GC analysis is needed"
    )
    limits = tuple(
        limit
        if limit.unrestricted or limit.prohibited
        else dataclasses.replace(
            limit, max_percent_in_finished_product=None, unreadable=True, note=note
        )
        for limit in substance.limits
    )
    return dataclasses.replace(
        substance,
        id=substance.id + LEVEL_UNKNOWN_SUFFIX,
        name=f"{substance.name} (level unknown, counted at the material's level)",
        ifra_standard=substance.ifra_standard or IfraStandardType.RESTRICTION,
        limits=limits,
        ifra_searched=note,
        allergen=None,
        eu_limits=(),
        cmr=None,
    )

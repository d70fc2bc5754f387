"""EU Regulation (EC) No 1223/2009, Annexes II and III, from the Commission's CosIng export.

`parse_annex` reads one annex's CSV text; `apply_eu_annexes` turns its entries into EuLimits
on the catalogue's substances: Annex II entries with a CAS are prohibitions in every cosmetic
(mechanical, save the wording classes and entries the reviewed file excepts), Annex III
entries are read from the reviewed file (`data/regulatory/eu_annex_iii.yaml`), which must
say something of every entry relevant to us. Every entry read is accounted for: encoded,
labelling only, excepted (with the reason and what the engine does instead) or not relevant
(with why). Pure: the texts come in as arguments.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from fragrance_ai.domain.catalogue import (
    CatalogueError,
    EuLimit,
    EuScope,
    Substance,
    is_valid_cas,
)
from fragrance_ai.domain.products import ProductType, all_profiles

_CAS_TOKEN = re.compile(r"\d{2,7}-\d{2}-\d")
_EXPORT_DATE = re.compile(r"Last update:\s*(\d{2}/\d{2}/\d{4})")
COSMETICS: tuple[str, ...] = tuple(p.product.value for p in all_profiles() if p.cosmetic)


@dataclass(frozen=True)
class AnnexEntry:
    annex: str
    reference: str
    # The chemical name / INN, then the glossary name where the annex has one.
    names: tuple[str, ...]
    # Only the check-digit-valid CAS numbers of the cell, in its order.
    cas: tuple[str, ...]
    product_types: str
    maximum: str
    other: str
    wording: str
    regulation: str
    other_regulations: str
    update_date: date | None
    # The export's "Last update" of the whole annex.
    export_date: date | None

    @property
    def name(self) -> str:
        glossary = self.names[1] if len(self.names) > 1 else ""
        chosen = glossary if glossary and glossary != "-" else self.names[0]
        return " ".join(chosen.split())[:120]


class Status(StrEnum):
    ENCODED = "encoded"
    # An allergen entry: a labelling rule, not a maximum (see the allergen declaration).
    LABELLING = "labelling_only"
    EXCEPTED = "excepted"
    NOT_RELEVANT = "not_relevant"


@dataclass(frozen=True)
class EntryAccount:
    annex: str
    reference: str
    status: Status
    # Why (excepted, not relevant) and, for an exception, what the engine does instead.
    reason: str = ""
    effect: str = ""
    substance_ids: tuple[str, ...] = ()
    # Hand-typed EU figures of ingredients.yaml this entry replaced.
    replaced: tuple[str, ...] = ()


@dataclass(frozen=True)
class EuMerge:
    substances: list[Substance]
    accounts: tuple[EntryAccount, ...]

    def count(self, annex: str, status: Status) -> int:
        return sum(a.annex == annex and a.status is status for a in self.accounts)


def parse_annex(text: str, annex: str) -> tuple[AnnexEntry, ...]:
    """The export has a few preamble lines, then a two-line header whose second line names
    the columns; cells may span lines."""
    rows = list(csv.reader(io.StringIO(text)))
    export = next((m for row in rows[:5] for cell in row if (m := _EXPORT_DATE.search(cell))), None)
    export_date = _date(export.group(1)) if export else None
    header_at = next(
        (i for i, row in enumerate(rows) if row and row[0].strip() == "Reference Number"), None
    )
    if header_at is None:
        raise CatalogueError(f"Annex {annex}: no 'Reference Number' header row")
    header = [" ".join(cell.split()) for cell in rows[header_at]]

    def column(*names: str) -> int | None:
        return next((header.index(n) for n in names if n in header), None)

    index = {
        "chemical": column("Chemical name / INN"),
        "glossary": column("Name of Common Ingredients Glossary"),
        "cas": column("CAS Number"),
        "products": column("Product Type, body parts"),
        "maximum": column("Maximum concentration in ready for use preparation"),
        "other": column("Other"),
        "wording": column("Wording of conditions of use and warnings"),
        "regulation": column("Regulation"),
        "other_regulations": column("Other Directives/Regulations"),
        "update": column("Update Date"),
    }

    def cell(row: list[str], key: str) -> str:
        at = index[key]
        return row[at].strip() if at is not None and at < len(row) else ""

    entries = []
    for row in rows[header_at + 1 :]:
        if len(row) < len(header) or not row[0].strip():
            continue
        names = tuple(n for n in (cell(row, "chemical"), cell(row, "glossary")) if n)
        entries.append(
            AnnexEntry(
                annex=annex,
                reference=row[0].strip(),
                names=names,
                cas=cas_numbers(cell(row, "cas")),
                product_types=cell(row, "products"),
                maximum=cell(row, "maximum"),
                other=cell(row, "other"),
                wording=cell(row, "wording"),
                regulation=cell(row, "regulation"),
                other_regulations=cell(row, "other_regulations"),
                update_date=_date(cell(row, "update")),
                export_date=export_date,
            )
        )
    return tuple(entries)


def cas_numbers(text: str) -> tuple[str, ...]:
    """The check-digit-valid CAS numbers of a cell that may hold several, separated by `/`,
    `;`, `,`, `-` or new lines, and words."""
    found: list[str] = []
    for token in _CAS_TOKEN.findall(text):
        if is_valid_cas(token) and token not in found:
            found.append(token)
    return tuple(found)


def apply_eu_annexes(
    substances: list[Substance],
    annex_ii: Iterable[AnnexEntry],
    annex_iii: Iterable[AnnexEntry],
    encoded: Mapping[str, Any],
    *,
    material_cas: Iterable[str] = (),
) -> EuMerge:
    """The substances with the annexes' rules attached (new substances for CAS numbers the
    catalogue does not hold), and an account of every entry."""
    merge = _Merge(substances, encoded)
    accounts = [merge.annex_ii(entry) for entry in annex_ii]
    relevant = (
        {c for s in substances for c in s.cas}
        | {c for c in material_cas if isinstance(c, str)}
        | {str(c) for c in encoded.get("relevant_cas") or []}
    )
    accounts += [merge.annex_iii(entry, relevant) for entry in annex_iii]
    return EuMerge(list(merge.pool.values()), tuple(accounts))


class _Merge:
    def __init__(self, substances: list[Substance], encoded: Mapping[str, Any]) -> None:
        self.pool: dict[str, Substance] = {s.id: s for s in substances}
        self.original = {s.id for s in substances}
        self.encoded = encoded
        groups = encoded.get("product_types") or {}
        self.groups: dict[str, tuple[str, ...]] = {}
        for key, products in groups.items():
            values = tuple(str(p) for p in products or [])
            for product in values:
                ProductType(product)  # a typing error in the reviewed table stops the load
            self.groups[str(key)] = values
        self.acts: dict[str, dict[str, Any]] = dict(encoded.get("acts") or {})
        self.wording = [
            (re.compile(str(w["match"]), re.IGNORECASE), w)
            for w in encoded.get("annex_ii_wording") or []
        ]
        self.ii_exceptions = {str(e["entry"]): e for e in encoded.get("annex_ii_exceptions") or []}
        self.iii = {str(k): v for k, v in (encoded.get("annex_iii") or {}).items()}

    # -- Annex II ----------------------------------------------------------------------------

    def annex_ii(self, entry: AnnexEntry) -> EntryAccount:
        ref = entry.reference
        if not entry.cas:
            return EntryAccount("II", ref, Status.NOT_RELEVANT, "no valid CAS number")
        exception = self.ii_exceptions.get(ref)
        if exception is not None:
            return self._annex_ii_exception(entry, exception)
        cls = next((w for pattern, w in self.wording if pattern.search(entry.names[0])), None)
        status = Status(cls["status"]) if cls else Status.ENCODED
        if status is Status.NOT_RELEVANT:
            return EntryAccount("II", ref, status, str(cls["reason"]) if cls else "")
        note = " ".join(entry.names[0].split()) if status is Status.EXCEPTED else ""
        ids, replaced = self._attach(entry, entry.cas, [self._ban(entry, note=note)], "II")
        return EntryAccount(
            "II",
            ref,
            status,
            reason=str(cls["reason"]) if cls else "",
            effect=" ".join(str(cls.get("effect", "")).split()) if cls else "",
            substance_ids=ids,
            replaced=replaced,
        )

    def _annex_ii_exception(self, entry: AnnexEntry, exception: Mapping[str, Any]) -> EntryAccount:
        ids: list[str] = []
        replaced: tuple[str, ...] = ()
        if exception.get("only_added_as_such"):
            # A substance of its own, which only a material that IS the substance brings:
            # the naturals' constituents point at the catalogue's substance, not at this one.
            ban = self._ban(entry, note=str(exception["effect"]), only_added_as_such=True)
            new_id = f"eu_annex_ii_{_slug(entry.reference)}"
            self.pool[new_id] = self._new_substance(new_id, entry, (ban,))
            ids.append(new_id)
        natural = exception.get("natural_content_max_percent")
        if natural is not None:
            limit = EuLimit(
                rule=f"Annex II entry {entry.reference} (normal content in natural essences)",
                scope=EuScope.ALL,
                max_percent_in_finished_product=float(natural),
                source=_source(entry),
                act=self._act(entry)["act"],
                products=COSMETICS,
            )
            attached, replaced = self._attach(entry, entry.cas, [limit], "II", create=False)
            ids += attached
        condition = exception.get("condition")
        if condition:
            ids += self._condition(entry, entry.cas, str(condition))
        return EntryAccount(
            "II",
            entry.reference,
            Status.EXCEPTED,
            reason=" ".join(str(exception["reason"]).split()),
            effect=" ".join(str(exception["effect"]).split()),
            substance_ids=tuple(dict.fromkeys(ids)),
            replaced=replaced,
        )

    def _ban(self, entry: AnnexEntry, *, note: str, only_added_as_such: bool = False) -> EuLimit:
        act = self._act(entry)
        return EuLimit(
            rule=f"Annex II entry {entry.reference}",
            scope=EuScope.ALL,
            max_percent_in_finished_product=None,
            source=_source(entry),
            note=note,
            act=act["act"],
            placing_on_market_from=act.get("placing_on_market_from"),
            making_available_from=act.get("making_available_from"),
            products=COSMETICS,
            only_added_as_such=only_added_as_such,
        )

    # -- Annex III ---------------------------------------------------------------------------

    def annex_iii(self, entry: AnnexEntry, relevant: set[str]) -> EntryAccount:
        ref = entry.reference
        review = self.iii.get(ref)
        if review is None:
            if set(entry.cas) & relevant:
                raise CatalogueError(
                    f"Annex III entry {ref} ({entry.name}) concerns a substance we hold or IFRA "
                    "lists, and eu_annex_iii.yaml says nothing of it: encode it, or list it as "
                    "labelling, not_for_our_products or an exception"
                )
            why = (
                "no valid CAS number"
                if not entry.cas
                else "CAS not in the catalogue or IFRA's list"
            )
            return EntryAccount("III", ref, Status.NOT_RELEVANT, why)
        ids: list[str] = []
        replaced: list[str] = []
        cas = tuple(str(c) for c in review.get("cas") or entry.cas)
        limits = [self._limit(entry, raw, review) for raw in review.get("limits") or []]
        if limits:
            attached, gone = self._attach(entry, cas, limits, "III")
            ids += attached
            replaced += gone
        as_such = review.get("only_as_natural_content")
        if as_such:
            attached, _ = self._attach(entry, cas, [self._only_natural(entry, as_such)], "III")
            ids += attached
        combined = review.get("combined")
        if combined:
            ids.append(self._combined(entry, combined, review))
        if review.get("condition"):
            ids += self._condition(entry, cas, str(review["condition"]))
        exception = review.get("exception")
        if exception:
            status = Status.EXCEPTED
            reason = " ".join(str(exception["reason"]).split())
            effect = " ".join(str(exception["effect"]).split())
        elif limits or combined:
            status, reason, effect = Status.ENCODED, "", ""
        elif review.get("labelling"):
            status, reason, effect = Status.LABELLING, "", ""
        elif review.get("not_for_our_products"):
            status, reason, effect = Status.NOT_RELEVANT, str(review["not_for_our_products"]), ""
        else:
            raise CatalogueError(f"eu_annex_iii.yaml: Annex III entry {ref} says nothing usable")
        return EntryAccount(
            "III",
            ref,
            status,
            reason=reason,
            effect=effect,
            substance_ids=tuple(dict.fromkeys(ids)),
            replaced=tuple(replaced),
        )

    def _limit(
        self, entry: AnnexEntry, raw: Mapping[str, Any], review: Mapping[str, Any]
    ) -> EuLimit:
        group = str(raw["products"])
        if group not in self.groups:
            raise CatalogueError(
                f"eu_annex_iii.yaml: entry {entry.reference}: no product type {group!r}"
            )
        excluded = {str(p) for p in raw.get("except") or []}
        products = tuple(p for p in self.groups[group] if p not in excluded)
        maximum = float(raw["max"])
        if not 0 < maximum <= 100:
            raise CatalogueError(
                f"eu_annex_iii.yaml: entry {entry.reference}: max {maximum} out of range"
            )
        act = self._act(entry, review)
        part = str(raw.get("part") or "")
        return EuLimit(
            rule=f"Annex III entry {entry.reference}" + (f" ({part})" if part else ""),
            scope=_scope_covering(products),
            max_percent_in_finished_product=maximum,
            source=_source(entry),
            note=" ".join(str(review.get("note", "")).split()),
            act=act["act"],
            placing_on_market_from=act.get("placing_on_market_from"),
            making_available_from=act.get("making_available_from"),
            products=products,
        )

    def _only_natural(self, entry: AnnexEntry, raw: Mapping[str, Any]) -> EuLimit:
        """A substance the entry allows only as the normal content of natural essences: added
        as such it is prohibited (rules.py gives it its own rule as such)."""
        return EuLimit(
            rule=f"Annex III entry {entry.reference} (only as natural content of essences)",
            scope=EuScope.ALL,
            max_percent_in_finished_product=None,
            source=" ".join(str(raw["source"]).split()),
            uncertain=bool(raw.get("uncertain", False)),
            note=" ".join(str(raw.get("note", "")).split()),
            act=self._act(entry)["act"],
            products=COSMETICS,
            only_added_as_such=True,
        )

    def _combined(
        self, entry: AnnexEntry, raw: Mapping[str, Any], review: Mapping[str, Any]
    ) -> str:
        """A limit on the sum of several CAS: on the substance that holds exactly them (a
        material of any of them brings it), or a new one."""
        cas = tuple(str(c) for c in raw["cas"])
        act = self._act(entry, review)
        limit = EuLimit(
            rule=f"Annex III entry {entry.reference} (combined)",
            scope=EuScope.ALL,
            max_percent_in_finished_product=float(raw["max"]),
            source=_source(entry),
            note=" ".join(str(raw.get("note", "")).split()),
            act=act["act"],
            products=COSMETICS,
        )
        target = next((s for s in self.pool.values() if set(s.cas) == set(cas)), None)
        if target is None:
            new_id = f"eu_annex_iii_{_slug(entry.reference)}_combined"
            self.pool[new_id] = self._new_substance(new_id, entry, (limit,), cas=cas)
            return new_id
        self.pool[target.id] = replace(target, eu_limits=(*target.eu_limits, limit))
        return target.id

    # -- shared ------------------------------------------------------------------------------

    def _attach(
        self,
        entry: AnnexEntry,
        cas: tuple[str, ...],
        limits: list[EuLimit],
        annex: str,
        *,
        create: bool = True,
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Adds the limits to every substance whose CAS numbers all belong to the entry (a
        group substance with other CAS is left alone), replacing the hand-typed figures of the
        same annex; CAS numbers no substance holds get a new substance."""
        wanted = set(cas)
        ids: list[str] = []
        replaced: list[str] = []
        covered: set[str] = set()
        for substance in list(self.pool.values()):
            if not substance.cas or not set(substance.cas) <= wanted:
                continue
            kept = []
            for old in substance.eu_limits:
                if substance.id in self.original and _hand_typed_of(old, annex):
                    replaced.append(f"{substance.id}: {old.rule}")
                else:
                    kept.append(old)
            self.pool[substance.id] = replace(substance, eu_limits=(*kept, *limits))
            ids.append(substance.id)
            covered |= set(substance.cas)
        rest = tuple(c for c in cas if c not in covered)
        if rest and create:
            new_id = f"eu_annex_{annex.lower()}_{_slug(entry.reference)}"
            existing = self.pool.get(new_id)
            if existing is not None:
                self.pool[new_id] = replace(existing, eu_limits=(*existing.eu_limits, *limits))
            else:
                self.pool[new_id] = self._new_substance(new_id, entry, tuple(limits), cas=rest)
            ids.append(new_id)
        return tuple(ids), tuple(replaced)

    def _condition(self, entry: AnnexEntry, cas: tuple[str, ...], condition: str) -> list[str]:
        text = " ".join(condition.split())
        wanted = set(cas)
        ids = []
        for substance in list(self.pool.values()):
            if substance.cas and set(substance.cas) <= wanted and text not in substance.conditions:
                self.pool[substance.id] = replace(
                    substance, conditions=(*substance.conditions, text)
                )
                ids.append(substance.id)
        if not ids:
            new_id = f"eu_annex_{entry.annex.lower()}_{_slug(entry.reference)}"
            if new_id in self.pool:
                existing = self.pool[new_id]
                self.pool[new_id] = replace(existing, conditions=(*existing.conditions, text))
            else:
                self.pool[new_id] = replace(
                    self._new_substance(new_id, entry, (), cas=cas), conditions=(text,)
                )
            ids.append(new_id)
        return ids

    def _new_substance(
        self,
        substance_id: str,
        entry: AnnexEntry,
        limits: tuple[EuLimit, ...],
        *,
        cas: tuple[str, ...] | None = None,
    ) -> Substance:
        return Substance(
            id=substance_id,
            name=entry.name,
            cas=cas if cas is not None else entry.cas,
            ifra_standard=None,
            limits=(),
            ifra_note="",
            allergen=None,
            eu_limits=limits,
        )

    def _act(self, entry: AnnexEntry, review: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if review is not None and review.get("act"):
            return {"act": str(review["act"])}
        known = self.acts.get(entry.regulation)
        if known is not None:
            return dict(known)
        if entry.regulation == "(EC) 2009/1223":
            return {"act": "Regulation (EC) No 1223/2009"}
        return {"act": f"Regulation {entry.regulation}" if entry.regulation else ""}


# The scopes the rule book reads today, with the products each covers, narrowest first: a
# limit given by `products` also carries the narrowest scope that covers them all, so that a
# rule book that reads only `scope` is never less strict.
_SCOPES: tuple[tuple[EuScope, frozenset[str]], ...] = tuple(
    sorted(
        (
            (scope, frozenset(members))
            for scope, members in {
                EuScope.EAU_DE_TOILETTE: {"EDC", "EDT"},
                EuScope.FINE_FRAGRANCE: {"EDC", "EDT", "EDP", "parfum"},
                EuScope.RINSE_OFF: {"shampoo", "shower_gel", "soap"},
                EuScope.LEAVE_ON_OTHER_THAN_FINE_FRAGRANCE: {
                    "body_lotion",
                    "face_cream",
                    "hand_cream",
                    "deodorant",
                    "hair_spray",
                },
                EuScope.OTHER_THAN_FINE_FRAGRANCE: set(COSMETICS) - {"EDC", "EDT", "EDP", "parfum"},
                EuScope.LEAVE_ON: set(COSMETICS) - {"shampoo", "shower_gel", "soap"},
                EuScope.ALL: set(COSMETICS),
            }.items()
        ),
        key=lambda pair: len(pair[1]),
    )
)


def _scope_covering(products: tuple[str, ...]) -> EuScope:
    wanted = set(products)
    return next(scope for scope, members in _SCOPES if wanted <= members)


def _hand_typed_of(limit: EuLimit, annex: str) -> bool:
    """A figure typed into ingredients.yaml before the export was read, for this annex."""
    return not limit.source.startswith("European Commission CosIng") and (
        re.match(rf"Annex {annex}\b(?!I)", limit.rule) is not None
    )


def _source(entry: AnnexEntry) -> str:
    exported = entry.export_date.strftime("%d/%m/%Y") if entry.export_date else "undated"
    return (
        f"European Commission CosIng, Annex {entry.annex} of Regulation (EC) No 1223/2009 "
        f"(export, last update {exported}), entry {entry.reference}; CC BY 4.0"
    )


def _slug(reference: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", reference.lower()).strip("_")


def _date(text: str) -> date | None:
    try:
        return datetime.strptime(text.strip(), "%d/%m/%Y").date()
    except ValueError:
        return None

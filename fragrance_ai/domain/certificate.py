"""The documents a regulatory team signs: the IFRA certificate of a concentrate and the EU
allergen declaration of a finished product.

The certificate speaks of the CONCENTRATE, not of one product: for every IFRA category it
gives the most of this concentrate a finished product may hold, `min over substances of
limit / level_in_concentrate x 100`, and the substance that sets it. A substance under a
restriction with no figure in a category makes that category uncertifiable (no maximum is
printed, the reason is); a prohibited one present makes it 0. Phototoxic substances add up:
their joint maximum is `100 / sum(level_in_concentrate / limit)`.

The declaration names each Annex III entry once, by the name the Annex prints: several of
the data's substances may be one entry (lavender and lavandin oils are both "Lavandula
Oil/Extract"), and the 0.001 % / 0.01 % threshold applies to the entry's total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date

from pydantic import BaseModel, ConfigDict

from fragrance_ai.domain.catalogue import Catalogue, Ingredient, Substance
from fragrance_ai.domain.compliance import label_threshold
from fragrance_ai.domain.formula import Formula
from fragrance_ai.domain.products import IFRA_CATEGORIES, product_profile
from fragrance_ai.domain.rules import amendment_label

CATEGORY_LABELS: dict[str, str] = {
    "1": "Lip products",
    "2": "Deodorants and antiperspirants (axillae)",
    "3": "Products applied to the face or body with the fingertips",
    "4": "Fine fragrance",
    "5A": "Body lotion",
    "5B": "Face moisturiser",
    "5C": "Hand cream",
    "5D": "Baby creams, oils and talc",
    "6": "Products with oral and lip exposure",
    "7A": "Rinse-off hair products",
    "7B": "Leave-on hair products",
    "8": "Products with significant anogenital exposure",
    "9": "Rinse-off body products (soap, shower gel, shampoo)",
    "10A": "Household care, not sprayed",
    "10B": "Household aerosols and sprays",
    "11A": "Inert substrate, skin contact, no UV exposure",
    "11B": "Inert substrate, skin contact, possible UV exposure",
    "12": "No skin contact (candles, diffusers, air fresheners)",
}


class CategoryMaximum(BaseModel):
    model_config = ConfigDict(frozen=True)

    category: str
    label: str
    # The most of this concentrate a finished product of this category may hold, percent;
    # None when the category cannot be certified.
    max_percent_of_concentrate: float | None
    # What sets the maximum ("no restricted substance" when nothing does).
    limited_by: str
    limit_percent_in_product: float | None
    amendment: str
    source: str
    # The category cannot be certified: why.
    cannot_certify: str


class IfraCertificate(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    issued_on: date
    amendments_applied: list[str]
    categories: list[CategoryMaximum]
    # Every line of the concentrate that the engine could not assess.
    unassessed_materials: list[str]
    statement: str
    conditions: list[str]
    # The date the Standards were read for (a new creation placed on the market that day);
    # None: every Standard the data holds, whatever its deadline.
    rules_as_of: date | None = None


# Regulation (EU) 2023/1545, Article 2: a product naming its new Annex III entries is required
# when placed on the market from this date, and of every product made available from the next.
LABELLED_2023_ON_NEW_PRODUCTS_FROM = date(2026, 7, 31)
LABELLED_2023_ON_ALL_PRODUCTS_FROM = date(2028, 7, 31)


class DeclarationLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    # The name the Annex prints, to go on the label.
    inci: str
    # The data's substances that are this entry, and their CAS numbers.
    substance: str
    cas: str
    percent_in_concentrate: float
    percent_in_product: float
    declare: bool
    added_2023: bool
    materials: list[str]
    # An entry added by Regulation (EU) 2023/1545: from when a product placed on the market
    # must name it, and from when every product made available must. None for the older
    # entries, labelled since 2005.
    labelled_on_new_products_from: date | None = None
    labelled_on_all_products_from: date | None = None


class AllergenDeclaration(BaseModel):
    model_config = ConfigDict(frozen=True)

    product: str
    dosage_percent: float
    leave_on: bool
    # None where EU cosmetic labelling does not apply (not a cosmetic).
    threshold_percent: float | None
    lines: list[DeclarationLine]
    # The INCI names to print, in descending order of level.
    label_text: str
    notes: list[str]


def _concentrate_levels(
    formula: Formula, catalogue: Catalogue, own: dict[str, Ingredient]
) -> tuple[dict[str, tuple[Substance, float, dict[str, float]]], list[str]]:
    """Each substance's level in the concentrate, percent, with each material's share, and
    the lines that could not be assessed."""
    levels: dict[str, tuple[Substance, float, dict[str, float]]] = {}
    unassessed: list[str] = []
    for line in formula.lines:
        material = catalogue.get(line.cas) or own.get(line.cas)
        if material is None:
            unassessed.append(f"{line.name} ({line.cas})")
            continue
        for substance, fraction in material.contributions:
            level = line.percent * fraction
            if level <= 0:
                continue
            _, total, shares = levels.get(substance.id, (substance, 0.0, {}))
            shares[line.name] = shares.get(line.name, 0.0) + level
            levels[substance.id] = (substance, total + level, shares)
    return levels, unassessed


class _AnnexEntry:
    """One Annex III allergen entry of a formula: the substances of the data that are it, and
    their summed level in the concentrate."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.substances: list[Substance] = []
        self.level = 0.0
        self.materials: dict[str, None] = {}
        self.added_2023 = False


def _annex_entries(
    levels: dict[str, tuple[Substance, float, dict[str, float]]],
) -> list[_AnnexEntry]:
    entries: dict[str, _AnnexEntry] = {}
    for substance, level, shares in levels.values():
        allergen = substance.allergen
        if allergen is None:
            continue
        label = allergen.inci or substance.name
        entry = entries.setdefault(_label_key(label), _AnnexEntry(label))
        entry.substances.append(substance)
        entry.level += level
        entry.materials.update(dict.fromkeys(shares))
        entry.added_2023 = entry.added_2023 or allergen.added_2023
    return list(entries.values())


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _label_key(label: str) -> str:
    return " ".join(label.casefold().replace("/ ", "/").split())


@dataclass(frozen=True)
class _Cap:
    """The most of the concentrate one category allows, and the rule that sets it."""

    maximum: float
    limited_by: str = "no restricted substance"
    limit_percent: float | None = None
    amendment: str = ""
    source: str = ""


_PHOTOTOXIC_SUM = _Cap(
    maximum=math.inf,
    limited_by="IFRA additive rule for phototoxic ingredients (sum of level / limit)",
    limit_percent=1.0,
    amendment="IFRA Guidance for the use of IFRA Standards",
    source="IFRA Guidance for the use of IFRA Standards, section 1.6.1",
)


def _not_yet_binding(
    levels: dict[str, tuple[Substance, float, dict[str, float]]], as_of: date | None
) -> dict[str, str]:
    """The substances present whose Standard binds new creations only after `as_of`, with a
    sentence saying why that makes the certificate impossible: the amendment before it bound
    on that date, and its figure is not in the data."""
    if as_of is None:
        return {}
    return {
        key: (
            f"{substance.name}: its IFRA Standard binds new creations from "
            f"{starts.isoformat()}; the figure that bound on {as_of.isoformat()} (an earlier "
            "amendment's) is not in the data"
        )
        for key, (substance, level, _) in levels.items()
        if level > 0
        and (starts := substance.ifra_new_creations_from) is not None
        and starts > as_of
    }


def _category_cap(
    levels: dict[str, tuple[Substance, float, dict[str, float]]], category: str
) -> _Cap:
    """The substance whose limit caps the concentrate lowest in the category, counting its
    level from every material that brings it (as itself or as a constituent); the phototoxic
    substances' joint maximum where it is lower still. A tie goes to the first name in
    alphabetical order, so that the certificate reads the same every time."""
    caps = [_Cap(maximum=math.inf)]
    phototoxic_load = 0.0
    for substance, level, _ in levels.values():
        limit = substance.limit_for(category)
        if limit is None or limit.unrestricted or limit.unreadable or level <= 0:
            continue
        if limit.prohibited:
            caps.append(
                _Cap(0.0, substance.name, 0.0, amendment_label(limit.amendment), limit.source)
            )
            continue
        if substance.phototoxic:
            phototoxic_load += level / limit.allowed_percent
        caps.append(
            _Cap(
                limit.allowed_percent / level * 100,
                substance.name,
                limit.allowed_percent,
                amendment_label(limit.amendment),
                limit.source,
            )
        )
    lowest = min(caps, key=lambda cap: (cap.maximum, cap.limited_by))
    # The sum binds only below every single substance's own cap: with one phototoxic
    # substance it equals that substance's cap, which is then named.
    if phototoxic_load > 0 and 100 / phototoxic_load < lowest.maximum * (1 - 1e-9):
        lowest = replace(_PHOTOTOXIC_SUM, maximum=100 / phototoxic_load)
    if lowest.maximum >= 100:
        # Even the neat concentrate meets every limit: no substance sets the maximum.
        return _Cap(maximum=100.0)
    return lowest


def _quality_conditions(
    levels: dict[str, tuple[Substance, float, dict[str, float]]],
) -> list[str]:
    """What the specification Standards (and the EU's conditions) demand of the grade of
    the materials present, as the data words it."""
    seen: dict[str, None] = {}
    for substance, level, _ in levels.values():
        if level > 0:
            seen.update(dict.fromkeys(substance.conditions))
    return list(seen)


def ifra_certificate(
    formula: Formula,
    catalogue: Catalogue,
    *,
    issued_on: date,
    title: str,
    own_materials: dict[str, Ingredient] | None = None,
    as_of: date | None = None,
) -> IfraCertificate:
    """`as_of`: the date the Standards are read for. A Standard whose deadline for new
    creations falls after it makes every category uncertifiable, naming it: an earlier
    amendment bound then, and its figure is not in the data."""
    levels, unassessed = _concentrate_levels(formula, catalogue, own_materials or {})
    not_yet = _not_yet_binding(levels, as_of)
    amendments: set[str] = set()
    categories = []
    for category in IFRA_CATEGORIES:
        cap = _category_cap(levels, category)
        missing = sorted(
            substance.name
            for substance, _, _ in levels.values()
            if substance.lacks_figure_for(category)
        )
        if cap.amendment:
            amendments.add(cap.amendment)
        if missing or unassessed or not_yet:
            # The category cannot be certified: what stops it is named, never a substance
            # that merely has the lowest of the figures the data does hold.
            parts = []
            if missing:
                parts.append("no IFRA figure in the data for " + ", ".join(missing))
            if unassessed:
                parts.append("materials not assessed: " + ", ".join(unassessed))
            parts.extend(not_yet.values())
            categories.append(
                CategoryMaximum(
                    category=category,
                    label=CATEGORY_LABELS[category],
                    max_percent_of_concentrate=None,
                    limited_by="cannot certify: " + "; ".join(parts),
                    limit_percent_in_product=None,
                    amendment="",
                    source="",
                    cannot_certify="; ".join(parts),
                )
            )
            continue
        categories.append(
            CategoryMaximum(
                category=category,
                label=CATEGORY_LABELS[category],
                max_percent_of_concentrate=round(
                    min(cap.maximum, 100.0), 4 if cap.maximum < 1 else 2
                ),
                limited_by=cap.limited_by,
                limit_percent_in_product=cap.limit_percent,
                amendment=cap.amendment,
                source=cap.source,
                cannot_certify="",
            )
        )
    return IfraCertificate(
        title=title,
        issued_on=issued_on,
        amendments_applied=sorted(amendments),
        categories=categories,
        unassessed_materials=unassessed,
        statement=(
            "This concentrate complies with the IFRA Standards named below when used in a "
            "finished product of each category at no more than the maximum shown. Where no "
            "maximum is shown, the category cannot be certified and the reason is given."
        ),
        rules_as_of=as_of,
        conditions=[
            *_quality_conditions(levels),
            "Figures as recorded in the data with their amendment and source; figures from "
            "the 49th or 50th Amendment or from a secondary source are marked in the "
            "catalogue and must be confirmed against the current Amendment before release.",
            "IFRA specification standards (purity criteria) are met by the grade of each "
            "material, as its supplier's certificate must show.",
            "EU law (Annex II and III of Regulation (EC) No 1223/2009, CLP) is not part of "
            "this certificate; the compliance report of a finished product applies it.",
        ],
    )


def allergen_declaration(
    formula: Formula,
    catalogue: Catalogue,
    *,
    own_materials: dict[str, Ingredient] | None = None,
) -> AllergenDeclaration:
    profile = product_profile(formula.product)
    levels, unassessed = _concentrate_levels(formula, catalogue, own_materials or {})
    threshold = label_threshold(profile)
    lines = []
    for entry in _annex_entries(levels):
        in_product = entry.level * formula.dosage_percent / 100
        lines.append(
            DeclarationLine(
                inci=entry.label,
                substance="; ".join(s.name for s in entry.substances),
                cas=", ".join(dict.fromkeys(s.label_cas for s in entry.substances if s.cas)),
                percent_in_concentrate=round(entry.level, 6),
                percent_in_product=round(in_product, 6),
                declare=threshold is not None and in_product > threshold,
                added_2023=entry.added_2023,
                materials=list(entry.materials),
                labelled_on_new_products_from=LABELLED_2023_ON_NEW_PRODUCTS_FROM
                if entry.added_2023
                else None,
                labelled_on_all_products_from=LABELLED_2023_ON_ALL_PRODUCTS_FROM
                if entry.added_2023
                else None,
            )
        )
    lines.sort(key=lambda line: (-line.percent_in_product, line.inci))
    notes = []
    if threshold is None:
        notes.append(
            f"A {profile.label} is not a cosmetic: no INCI allergen labelling; the allergens "
            "are listed for the CLP label and safety data sheet."
        )
    else:
        notes.append(
            f"{'Leave-on' if profile.leave_on else 'Rinse-off'} product: allergens above "
            f"{threshold:g} % of the finished product are named on the label (Regulation (EC) "
            "No 1223/2009, Annex III)."
        )
    new_entries = [line.inci for line in lines if line.added_2023 and line.declare]
    if new_entries:
        notes.append(
            "Added to Annex III by Regulation (EU) 2023/1545, so named on the label of a "
            f"product placed on the market from {_day(LABELLED_2023_ON_NEW_PRODUCTS_FROM)} and "
            f"of every product made available from {_day(LABELLED_2023_ON_ALL_PRODUCTS_FROM)}: "
            + ", ".join(new_entries)
            + "."
        )
    if unassessed:
        notes.append(
            "Not assessed (composition unknown), so this declaration may be incomplete: "
            + ", ".join(unassessed)
            + "."
        )
    return AllergenDeclaration(
        product=formula.product.value,
        dosage_percent=formula.dosage_percent,
        leave_on=profile.leave_on,
        threshold_percent=threshold,
        lines=lines,
        label_text=", ".join(line.inci.upper() for line in lines if line.declare),
        notes=notes,
    )

"""The documents a regulatory team signs: the IFRA certificate of a concentrate and the EU
allergen declaration of a finished product.

The certificate speaks of the CONCENTRATE, not of one product: for every IFRA category it
gives the most of this concentrate a finished product may hold, `min over substances of
limit / level_in_concentrate x 100`, and the substance that sets it. A substance under a
restriction with no figure in a category makes that category uncertifiable (no maximum is
printed, the reason is); a prohibited one present makes it 0. Phototoxic substances add up:
their joint maximum is `100 / sum(level_in_concentrate / limit)`.
"""

from __future__ import annotations

import math
from datetime import date

from pydantic import BaseModel, ConfigDict

from fragrance_ai.domain.catalogue import Catalogue, Ingredient, Substance
from fragrance_ai.domain.compliance import (
    LEAVE_ON_LABEL_THRESHOLD_PERCENT,
    RINSE_OFF_LABEL_THRESHOLD_PERCENT,
)
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


class DeclarationLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    inci: str
    substance: str
    cas: str
    percent_in_concentrate: float
    percent_in_product: float
    declare: bool
    added_2023: bool
    materials: list[str]


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


def ifra_certificate(
    formula: Formula,
    catalogue: Catalogue,
    *,
    issued_on: date,
    title: str,
    own_materials: dict[str, Ingredient] | None = None,
) -> IfraCertificate:
    levels, unassessed = _concentrate_levels(formula, catalogue, own_materials or {})
    amendments: set[str] = set()
    categories = []
    for category in IFRA_CATEGORIES:
        best = math.inf
        limited_by, limit_value, amendment, source = "no restricted substance", None, "", ""
        missing: list[str] = []
        phototoxic_load = 0.0
        for substance, level, _ in levels.values():
            if substance.lacks_figure_for(category):
                missing.append(substance.name)
                continue
            limit = substance.limit_for(category)
            if limit is None or limit.unrestricted:
                continue
            allowed = 0.0 if limit.prohibited else limit.allowed_percent / level * 100
            if substance.phototoxic and not limit.prohibited:
                phototoxic_load += level / limit.allowed_percent
            if allowed < best:
                best = allowed
                limited_by = substance.name
                limit_value = 0.0 if limit.prohibited else limit.allowed_percent
                amendment, source = amendment_label(limit.amendment), limit.source
        if phototoxic_load > 0 and 100 / phototoxic_load < best:
            best = 100 / phototoxic_load
            limited_by = "IFRA additive rule for phototoxic ingredients (sum of level / limit)"
            limit_value, amendment = 1.0, "IFRA Guidance for the use of IFRA Standards"
            source = "IFRA Guidance for the use of IFRA Standards, section 1.6.1"
        if amendment:
            amendments.add(amendment)
        reason = ""
        if missing or unassessed:
            parts = []
            if missing:
                parts.append("no IFRA figure in the data for " + ", ".join(sorted(missing)))
            if unassessed:
                parts.append("materials not assessed: " + ", ".join(unassessed))
            reason = "; ".join(parts)
        categories.append(
            CategoryMaximum(
                category=category,
                label=CATEGORY_LABELS[category],
                max_percent_of_concentrate=None
                if reason
                else round(min(best, 100.0), 4 if best < 1 else 2),
                limited_by=limited_by,
                limit_percent_in_product=limit_value,
                amendment=amendment,
                source=source,
                cannot_certify=reason,
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
        conditions=[
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
    threshold = (
        None
        if not profile.cosmetic
        else LEAVE_ON_LABEL_THRESHOLD_PERCENT
        if profile.leave_on
        else RINSE_OFF_LABEL_THRESHOLD_PERCENT
    )
    lines = []
    for substance, level, shares in levels.values():
        if substance.allergen is None:
            continue
        in_product = level * formula.dosage_percent / 100
        lines.append(
            DeclarationLine(
                inci=substance.allergen.inci or substance.name,
                substance=substance.name,
                cas=substance.label_cas,
                percent_in_concentrate=round(level, 6),
                percent_in_product=round(in_product, 6),
                declare=threshold is not None and in_product > threshold,
                added_2023=substance.allergen.added_2023,
                materials=list(shares),
            )
        )
    lines.sort(key=lambda line: -line.percent_in_product)
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
    if any(line.added_2023 for line in lines):
        notes.append(
            "Entries added by Regulation (EU) 2023/1545 must be labelled on products placed "
            "on the market from 31 July 2026 and on every product made available from 31 July "
            "2028."
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

"""IFRA compliance and EU allergen labelling of a formula at its product's dosage.

Every level is computed in the FINISHED product: a line at `percent` of the concentrate,
in a product holding `dosage_percent` of concentrate, brings `fraction x percent x dosage /
100` of each substance it contains. Levels of one substance add up over every material that
carries it (the material itself, or a constituent of a natural). This module is the only
place in the code base that decides whether a formula is compliant.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from fragrance_ai.domain.catalogue import Catalogue, IfraLimit, Ingredient, Substance
from fragrance_ai.domain.formula import Formula
from fragrance_ai.domain.products import ProductType, product_profile

# Levels are compared with a little slack so that a line capped exactly at its limit is not
# reported as a violation because of floating-point rounding.
TOLERANCE_PERCENT = 1e-9
LEAVE_ON_LABEL_THRESHOLD_PERCENT = 0.001
RINSE_OFF_LABEL_THRESHOLD_PERCENT = 0.01


class Contribution(BaseModel):
    model_config = ConfigDict(frozen=True)

    material: str
    level_percent_in_product: float


class Violation(BaseModel):
    model_config = ConfigDict(frozen=True)

    substance: str
    cas: str
    level_percent_in_product: float
    limit_percent_in_product: float
    limit_source: str
    # The figure is applied as binding but is not confirmed against the primary text.
    limit_uncertain: bool
    materials: list[str]
    contributions: list[Contribution]


class ReviewItem(BaseModel):
    """A substance under an IFRA standard for which the data has no figure in this
    category: the engine cannot decide, a person must."""

    model_config = ConfigDict(frozen=True)

    substance: str
    cas: str
    level_percent_in_product: float
    materials: list[str]
    reason: str


class AllergenLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    substance: str
    cas: str
    level_percent_in_product: float
    # True when the level is above the labelling threshold of this product.
    declare: bool
    # The Annex III entry itself is not confirmed against the Official Journal text.
    entry_uncertain: bool
    materials: list[str]


class ComplianceReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    # No limit exceeded (uncertain figures included) and every material known. Substances
    # without a figure do not make this false; they set `needs_review` instead.
    compliant: bool
    needs_review: bool
    ifra_category: str
    product: ProductType
    dosage_percent: float
    violations: list[Violation]
    review: list[ReviewItem]
    # EU cosmetic labelling: None where it does not apply (a candle is not a cosmetic).
    allergen_label_threshold_percent: float | None
    allergens: list[AllergenLine]
    checked_substances: int
    notes: list[str]

    @property
    def allergens_to_declare(self) -> list[str]:
        return [line.substance for line in self.allergens if line.declare]


class _Exposure:
    __slots__ = ("contributions", "level", "substance")

    def __init__(self, substance: Substance) -> None:
        self.substance = substance
        self.level = 0.0
        self.contributions: dict[str, float] = {}


def substance_levels(formula: Formula, catalogue: Catalogue) -> list[_Exposure]:
    """Each regulated substance's level in the finished product, percent, with the share
    each material brings."""
    exposures: dict[str, _Exposure] = {}
    scale = formula.dosage_percent / 100
    for line in formula.lines:
        material = catalogue.get(line.cas)
        if material is None:
            continue
        in_product = line.percent * scale
        for substance, fraction in material.contributions:
            exposure = exposures.get(substance.id)
            if exposure is None:
                exposure = exposures[substance.id] = _Exposure(substance)
            level = in_product * fraction
            exposure.level += level
            exposure.contributions[material.name] = (
                exposure.contributions.get(material.name, 0.0) + level
            )
    return list(exposures.values())


def check_compliance(formula: Formula, catalogue: Catalogue) -> ComplianceReport:
    profile = product_profile(formula.product)
    category = profile.ifra_category
    notes = [
        f"IFRA category {category} ({profile.label}) at {formula.dosage_percent:g} % "
        "concentrate in the finished product; every level below is percent of the finished "
        "product.",
    ]
    unknown = [line for line in formula.lines if line.cas not in catalogue]
    if unknown:
        names = ", ".join(f"{line.name} ({line.cas})" for line in unknown)
        notes.append(f"Not in the catalogue, so not assessed: {names}.")

    threshold = _label_threshold(formula.product)
    # Plain dicts, validated into the report in one call: pydantic-core builds the nested
    # models several times faster than one constructor call per line.
    violations: list[dict[str, Any]] = []
    review: list[dict[str, Any]] = []
    allergens: list[dict[str, Any]] = []
    uncertain_applied: list[str] = []
    exposures = substance_levels(formula, catalogue)
    for exposure in exposures:
        substance = exposure.substance
        limit = substance.limit_for(category)
        if limit is not None:
            if limit.uncertain and not limit.unrestricted:
                uncertain_applied.append(substance.name)
            exceeded = (
                exposure.level > 0
                if limit.prohibited
                else exposure.level > limit.allowed_percent + TOLERANCE_PERCENT
            )
            if exceeded:
                violations.append(_violation(exposure, limit))
        elif substance.lacks_figure_for(category) and exposure.level > 0:
            review.append(
                {
                    "substance": substance.name,
                    "cas": substance.label_cas,
                    "level_percent_in_product": round(exposure.level, 6),
                    "materials": list(exposure.contributions),
                    "reason": (
                        f"IFRA {substance.ifra_standard} standard with no figure for category "
                        f"{category} in the data; check by hand. {substance.ifra_note}"
                    ).strip(),
                }
            )
        if substance.allergen is not None and exposure.level > 0:
            allergens.append(
                {
                    "substance": substance.name,
                    "cas": substance.label_cas,
                    "level_percent_in_product": round(exposure.level, 6),
                    "declare": threshold is not None and exposure.level > threshold,
                    "entry_uncertain": substance.allergen.uncertain,
                    "materials": list(exposure.contributions),
                }
            )
    if uncertain_applied:
        notes.append(
            "Limits applied as binding but marked uncertain in the data (not confirmed "
            "against the 51st Amendment text): " + ", ".join(sorted(uncertain_applied)) + "."
        )
    if threshold is None:
        notes.append(
            "EU cosmetic allergen labelling does not apply to a candle (not a cosmetic); "
            "allergens are listed for information."
        )
    allergens.sort(key=lambda line: -float(line["level_percent_in_product"]))
    return ComplianceReport.model_validate(
        {
            "compliant": not violations and not unknown,
            "needs_review": bool(review),
            "ifra_category": category,
            "product": formula.product,
            "dosage_percent": formula.dosage_percent,
            "violations": violations,
            "review": review,
            "allergen_label_threshold_percent": threshold,
            "allergens": allergens,
            "checked_substances": len(exposures),
            "notes": notes,
        }
    )


def _violation(exposure: _Exposure, limit: IfraLimit) -> dict[str, Any]:
    return {
        "substance": exposure.substance.name,
        "cas": exposure.substance.label_cas,
        "level_percent_in_product": round(exposure.level, 6),
        "limit_percent_in_product": limit.allowed_percent,
        "limit_source": limit.source,
        "limit_uncertain": limit.uncertain,
        "materials": list(exposure.contributions),
        "contributions": [
            {"material": name, "level_percent_in_product": round(level, 6)}
            for name, level in exposure.contributions.items()
        ],
    }


def _label_threshold(product: ProductType) -> float | None:
    profile = product_profile(product)
    if product is ProductType.CANDLE:
        return None
    if profile.leave_on:
        return LEAVE_ON_LABEL_THRESHOLD_PERCENT
    return RINSE_OFF_LABEL_THRESHOLD_PERCENT


def max_percent_in_concentrate(material: Ingredient, category: str, dosage_percent: float) -> float:
    """The most of this material the concentrate can hold on its own, percent: the tightest
    `limit / (fraction x dosage) x 100` over the limited substances it brings. 0 when one of
    them is prohibited, 100 when none is limited. Other materials bringing the same
    substances lower this further; `check_compliance` is the judge of a whole formula."""
    cap = 100.0
    for substance, fraction in material.contributions:
        limit = substance.limit_for(category)
        if limit is None or limit.unrestricted or fraction <= 0:
            continue
        if limit.prohibited:
            return 0.0
        cap = min(cap, limit.allowed_percent / (fraction * dosage_percent) * 100)
    return cap


def lacks_figures(material: Ingredient, category: str) -> list[Substance]:
    """Restricted substances this material brings that have no figure in this category."""
    return [
        substance
        for substance, fraction in material.contributions
        if fraction > 0 and substance.lacks_figure_for(category)
    ]

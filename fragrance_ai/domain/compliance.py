"""IFRA compliance of a formula at its product's dosage and category."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from fragrance_ai.domain.catalogue import Catalogue, Ingredient
from fragrance_ai.domain.formula import Formula
from fragrance_ai.domain.products import ProductType, product_profile

# Levels are compared with a little slack so that a line capped exactly at its limit and
# then rounded to 2 decimals in the concentrate is not reported as a violation.
_TOLERANCE = 1e-9


class Violation(BaseModel):
    model_config = ConfigDict(frozen=True)

    substance: str
    cas: str
    level_percent_in_product: float
    limit_percent_in_product: float
    materials: list[str]


class ComplianceReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    compliant: bool
    ifra_category: str
    product: ProductType
    dosage_percent: float
    violations: list[Violation]
    checked_substances: int
    notes: list[str]


def substance_contributions(material: Ingredient) -> Iterator[tuple[Ingredient, float]]:
    """Restricted substances a material brings, with their mass fraction in it.

    For now a material contributes only itself. Naturals' constituents (eugenol in clove
    oil, citral in lemon oil...) plug in here without touching the rest of the check.
    """
    yield material, 1.0


@dataclass
class _Exposure:
    substance: Ingredient
    level_percent_in_product: float = 0.0
    materials: list[str] = field(default_factory=list)


def substance_exposures(formula: Formula, catalogue: Catalogue) -> list[_Exposure]:
    exposures: dict[str, _Exposure] = {}
    for line in formula.lines:
        material = catalogue.by_cas(line.cas)
        for substance, fraction in substance_contributions(material):
            exposure = exposures.setdefault(substance.cas, _Exposure(substance))
            exposure.level_percent_in_product += formula.percent_in_product(line) * fraction
            if material.name not in exposure.materials:
                exposure.materials.append(material.name)
    return list(exposures.values())


def check_compliance(formula: Formula, catalogue: Catalogue) -> ComplianceReport:
    profile = product_profile(formula.product)
    category = profile.ifra_category
    notes = [
        f"IFRA category {category} ({profile.label}) at {formula.dosage_percent:g}% "
        "concentrate in the finished product.",
    ]
    unknown = [line for line in formula.lines if line.cas not in catalogue]
    if unknown:
        names = ", ".join(f"{line.name} ({line.cas})" for line in unknown)
        notes.append(f"Not in the catalogue, so not assessed: {names}.")
        known = formula.model_copy(
            update={"lines": [line for line in formula.lines if line.cas in catalogue]}
        )
    else:
        known = formula

    violations: list[Violation] = []
    unverified: list[str] = []
    exposures = substance_exposures(known, catalogue)
    for exposure in exposures:
        substance = exposure.substance
        limit = substance.limit_for(category)
        if limit is None:
            if substance.restricted_unverified:
                unverified.append(substance.name)
            continue
        if exposure.level_percent_in_product > limit.allowed_percent + _TOLERANCE:
            violations.append(
                Violation(
                    substance=substance.name,
                    cas=substance.cas,
                    level_percent_in_product=round(exposure.level_percent_in_product, 6),
                    limit_percent_in_product=limit.allowed_percent,
                    materials=list(exposure.materials),
                )
            )
    if unverified:
        notes.append(
            "IFRA-restricted, but no verified limit in the catalogue; check by hand: "
            + ", ".join(sorted(unverified))
            + "."
        )
    notes.append("Constituents of natural materials are not assessed yet.")
    return ComplianceReport(
        compliant=not violations and not unknown,
        ifra_category=category,
        product=formula.product,
        dosage_percent=formula.dosage_percent,
        violations=violations,
        checked_substances=len(exposures),
        notes=notes,
    )

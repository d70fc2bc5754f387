"""IFRA and EU compliance and allergen labelling of a formula at its product's dosage.

Every level is computed in the FINISHED product: a line at `percent` of the concentrate,
in a product holding `dosage_percent` of concentrate, brings `fraction x percent x dosage /
100` of each substance it contains. Levels of one substance add up over every material that
carries it (the material itself, or a constituent of a natural). This module is the only
place in the code base that decides a formula's verdict; `rules` says which limit binds.

The verdict is never falsely reassuring:

- `not_compliant`: a substance is over its binding limit (IFRA or EU, the stricter), or the
  phototoxic materials together are over IFRA's additive rule (sum of level / limit > 1);
- `cannot_certify`: nothing is over a known limit, but a present substance is under an IFRA
  standard whose figure for this category the data lacks, or a material is unknown;
- `compliant`: neither. Only this sets the boolean `compliant`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from operator import attrgetter

from fragrance_ai.domain.catalogue import Catalogue, Ingredient, Substance
from fragrance_ai.domain.formula import Formula, FormulaLine
from fragrance_ai.domain.products import ProductProfile, ProductType
from fragrance_ai.domain.rounding import round6
from fragrance_ai.domain.rules import (
    DEFAULT_HORIZON_DAYS,
    TOLERANCE_PERCENT,
    AppliedLimit,
    RuleBook,
    SubstanceRule,
    rule_book,
)

LEAVE_ON_LABEL_THRESHOLD_PERCENT = 0.001
RINSE_OFF_LABEL_THRESHOLD_PERCENT = 0.01
PHOTOTOXIC_SUM_ID = "phototoxic_sum"


class Verdict(StrEnum):
    COMPLIANT = "compliant"
    NOT_COMPLIANT = "not_compliant"
    CANNOT_CERTIFY = "cannot_certify"


# The report and its lines are plain slotted dataclasses, not pydantic models: the check runs
# on every candidate an optimiser scores, and validating some forty lines into models took 40
# us of a 140 us check. Pydantic still serialises them where they leave the domain (the API's
# responses, the database's document) into the same JSON, with the same schema.
# The lines are not frozen: a frozen dataclass sets each field through `object.__setattr__`,
# which made the check 40 % slower (117 against 84 us); nothing writes to a line once the
# report holds it, and the report itself is frozen.


@dataclass(slots=True)
class Contribution:
    material: str
    level_percent_in_product: float


@dataclass(slots=True)
class Violation:
    substance: str
    cas: str
    level_percent_in_product: float
    limit_percent_in_product: float
    # The rule that bound (the stricter of IFRA and EU), named for a person.
    rule: str
    limit_source: str
    # The figure is applied as binding but is not confirmed against the primary text.
    limit_uncertain: bool
    materials: list[str]
    contributions: list[Contribution]


@dataclass(slots=True)
class ReviewItem:
    """A present substance the engine cannot certify: under an IFRA standard with no usable
    figure for this category in the data."""

    substance: str
    cas: str
    level_percent_in_product: float
    materials: list[str]
    reason: str


@dataclass(slots=True)
class AllergenLine:
    substance: str
    inci: str
    cas: str
    level_percent_in_product: float
    # True when the level is above the labelling threshold of this product.
    declare: bool
    # Added by Regulation (EU) 2023/1545 (labelled from 31 July 2026 for new products).
    added_2023: bool
    # The Annex III entry itself is not confirmed against the Official Journal text.
    entry_uncertain: bool
    materials: list[str]


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    verdict: Verdict
    # Why, in sentences: every violation, every substance that cannot be certified, every
    # unknown material. Empty only for `compliant`.
    reasons: list[str]
    # Kept for clients: true only when the verdict is `compliant`.
    compliant: bool
    # True when the verdict is `cannot_certify` for want of a figure (a person must decide).
    needs_review: bool
    ifra_category: str
    product: ProductType
    dosage_percent: float
    violations: list[Violation]
    review: list[ReviewItem]
    # Sum of level / limit over phototoxic substances (IFRA's additive rule: at most 1).
    phototoxic_sum: float
    unknown_materials: list[str]
    # EU cosmetic labelling: None where it does not apply (not a cosmetic).
    allergen_label_threshold_percent: float | None
    allergens: list[AllergenLine]
    checked_substances: int
    notes: list[str]
    # The date the rules were read for (None: every rule the data holds, adopted or in force)
    # and which rule set that is, in words.
    as_of: date | None = None
    rule_set: str = ""
    # Rules adopted but not yet binding on `as_of` (within the horizon) that the formula would
    # break: each with the date it starts to bind in its rule's words.
    upcoming_violations: list[Violation] = field(default_factory=list)
    # Quality conditions of the materials present (IFRA specifications, EU conditions), as
    # the certificate prints them: "Oakmoss extracts: atranol and chloroatranol ...".
    conditions: list[str] = field(default_factory=list)

    @property
    def allergens_to_declare(self) -> list[str]:
        return [line.substance for line in self.allergens if line.declare]


class Exposure:
    """One substance's level in the finished product, with each material's share."""

    __slots__ = ("contributions", "level", "rule")

    def __init__(self, rule: SubstanceRule, material: str, level: float) -> None:
        # Made with the first material that brings the substance; `0.0 +` keeps the sums
        # those of adding from zero (a "-0.0 %" line brings 0.0, not -0.0).
        self.rule = rule
        self.level = 0.0 + level
        self.contributions: dict[str, float] = {material: 0.0 + level}

    @property
    def substance(self) -> Substance:
        return self.rule.substance


def substance_levels(
    formula: Formula, catalogue: Catalogue, extra: dict[str, Ingredient] | None = None
) -> list[Exposure]:
    """Each regulated substance's level in the finished product, percent, with the share
    each material brings. `extra` holds materials outside the catalogue (a perfumer's own,
    with their declared composition), by CAS."""
    return _levels(formula, rule_book(catalogue, formula.product), extra or {})[0]


def _levels(
    formula: Formula, book: RuleBook, extra: dict[str, Ingredient]
) -> tuple[list[Exposure], list[FormulaLine]]:
    """`substance_levels`, and the lines whose material is in neither the catalogue nor
    `extra`, in one pass. The check's innermost loop (a hundred substance shares for forty
    lines): each line's substances come with their rules, compiled in the rule book, and
    each sum adds in line order as before."""
    exposures: dict[str, Exposure] = {}
    missing: list[FormulaLine] = []
    scale = formula.dosage_percent / 100
    catalogue_shares = book.shares.get
    for line in formula.lines:
        shares = catalogue_shares(line.cas)
        if shares is None:
            material = extra.get(line.cas)
            if material is None:
                missing.append(line)
                continue
            shares = book.shares_of(material)
        in_product = line.percent * scale
        name = line.name
        for substance_id, rule, fraction in shares:
            level = in_product * fraction
            exposure = exposures.get(substance_id)
            if exposure is None:
                exposures[substance_id] = Exposure(rule, name, level)
            else:
                if rule.added_as_such and not exposure.rule.added_as_such:
                    # The substance added as such beside its natural content: the stricter
                    # rule as such (a superset of the other) judges the whole level.
                    exposure.rule = rule
                exposure.level += level
                material_shares = exposure.contributions
                material_shares[name] = material_shares.get(name, 0.0) + level
    return list(exposures.values()), missing


def check_compliance(
    formula: Formula,
    catalogue: Catalogue,
    *,
    own_materials: dict[str, Ingredient] | None = None,
    unassessable: dict[str, str] | None = None,
    as_of: date | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> ComplianceReport:
    """The verdict on one formula. `own_materials` are a perfumer's materials outside the
    catalogue, by CAS, with their declared composition; `unassessable` maps the CAS of a
    line that cannot be assessed at all (no composition given) to why. `as_of` is the date
    the rules are read for: a rule binds from its date for new products, and one adopted to
    bind within `horizon_days` is reported in `upcoming_violations`; None reads every rule
    the data holds as binding."""
    book = rule_book(catalogue, formula.product, as_of, horizon_days)
    profile = book.profile
    category = profile.ifra_category
    own = own_materials or {}
    notes = [
        f"IFRA category {category} ({profile.label}) at {formula.dosage_percent:g} % "
        "concentrate in the finished product; every level below is percent of the finished "
        "product.",
    ]
    reasons: list[str] = []
    exposures, missing = _levels(formula, book, own)
    unknown = _unknown_lines(formula, missing, unassessable or {})
    for line, why in unknown:
        reasons.append(f"Cannot assess {line.name} ({line.cas}): {why}.")
    if own:
        notes.append(
            "Assessed on the composition the perfumer declared (not verified by the "
            "engine): " + ", ".join(f"{m.name} ({m.cas})" for m in own.values()) + "."
        )

    threshold = label_threshold(profile)
    findings = _Findings(threshold)
    findings.assess(exposures)
    phototoxic_sum = findings.add_phototoxic_sum(category)
    reasons.extend(findings.reasons)
    notes.extend(findings.notes())
    violations, review, allergens = findings.violations, findings.review, findings.allergens
    if threshold is None:
        notes.append(
            f"EU cosmetic allergen labelling does not apply to a {profile.label} (not a "
            "cosmetic); allergens are listed for the CLP safety data sheet."
        )
    allergens = _one_line_per_entry(allergens, findings.declare_above)
    # Highest level first; `reverse` keeps equal levels in the order found (sort is stable).
    allergens.sort(key=attrgetter("level_percent_in_product"), reverse=True)
    verdict = (
        Verdict.NOT_COMPLIANT
        if violations
        else Verdict.CANNOT_CERTIFY
        if review or unknown
        else Verdict.COMPLIANT
    )
    conditions = findings.conditions(exposures)
    if conditions:
        notes.append(
            "The verdict holds for materials of the grades these conditions require (the "
            "supplier's certificate must show them): " + " ".join(conditions)
        )
    upcoming = findings.upcoming_violations(exposures)
    for violation in upcoming:
        # A note, not a reason: the verdict is the law on `as_of`; what will bind is a warning.
        notes.append(
            f"From {violation.rule}: {violation.substance} at "
            f"{violation.level_percent_in_product:.6g} % of the product would be over its "
            f"{violation.limit_percent_in_product:g} % limit."
        )
    return ComplianceReport(
        verdict=verdict,
        reasons=reasons,
        compliant=verdict is Verdict.COMPLIANT,
        needs_review=bool(review) or bool(unknown),
        ifra_category=category,
        product=formula.product,
        dosage_percent=formula.dosage_percent,
        violations=violations,
        review=review,
        phototoxic_sum=round6(phototoxic_sum),
        unknown_materials=[f"{line.name} ({line.cas})" for line, _ in unknown],
        allergen_label_threshold_percent=threshold,
        allergens=allergens,
        checked_substances=len(exposures),
        notes=notes,
        as_of=as_of,
        rule_set=rule_set_words(as_of),
        upcoming_violations=upcoming,
        conditions=conditions,
    )


def rule_set_words(as_of: date | None) -> str:
    """Which rules a report applied, in words."""
    when = (
        f"as binding on {as_of.isoformat()} for a new product"
        if as_of is not None
        else "every rule adopted, whatever the date it binds from"
    )
    return (
        "IFRA Standards of the 51st Amendment and EU Regulation (EC) No 1223/2009 as the "
        f"Commission's CosIng annexes give it, with CLP / REACH for other products: {when}."
    )


def _unknown_lines(
    formula: Formula, missing: list[FormulaLine], unassessable: dict[str, str]
) -> list[tuple[FormulaLine, str]]:
    """The lines that cannot be assessed, in formula order, with why: those the caller
    names in `unassessable`, and those whose material is `missing` (no composition)."""
    no_composition = "not in the catalogue and no composition given"
    if not unassessable:
        return [(line, no_composition) for line in missing]
    missing_cas = {line.cas for line in missing}
    return [
        (line, unassessable.get(line.cas, no_composition))
        for line in formula.lines
        if line.cas in unassessable or line.cas in missing_cas
    ]


class _Findings:
    """What the check finds, substance by substance, as the report's lines."""

    def __init__(self, threshold: float | None) -> None:
        # Nothing is declared where labelling does not apply (no level is over infinity).
        self.declare_above = math.inf if threshold is None else threshold
        self.violations: list[Violation] = []
        self.review: list[ReviewItem] = []
        self.allergens: list[AllergenLine] = []
        self.reasons: list[str] = []
        self.uncertain_applied: set[str] = set()
        self.specifications: set[str] = set()
        self.phototoxic_terms: list[tuple[Exposure, float]] = []

    def assess(self, exposures: list[Exposure]) -> None:
        """Every substance present, in one loop with its lookups bound to locals: it runs
        some forty times per check. Violations and missing figures, the rare findings, are
        written up by methods."""
        declare_above = self.declare_above
        add_allergen = self.allergens.append
        for exposure in exposures:
            level = exposure.level
            if level <= 0:
                continue
            rule = exposure.rule
            # Rounded and listed once for every line that reports this substance; each line
            # still gets its own list.
            reported = round6(level)
            materials = list(exposure.contributions)
            binding = rule.binding
            if binding is not None:
                if binding.uncertain:
                    self.uncertain_applied.add(rule.substance.name)
                if binding.prohibited or level > binding.allowed_percent + TOLERANCE_PERCENT:
                    self._violation(exposure, binding, reported, list(materials))
            if rule.missing_reason:
                self._review(exposure, reported, list(materials))
            if rule.phototoxic_limit_percent:
                self.phototoxic_terms.append((exposure, rule.phototoxic_limit_percent))
            if rule.is_specification:
                self.specifications.add(rule.substance.name)
            entry = rule.allergen_entry
            if entry is not None:
                # Positional: keywords cost a third of the line's construction. The order is
                # AllergenLine's.
                add_allergen(
                    AllergenLine(
                        entry.substance,
                        entry.inci,
                        entry.cas,
                        reported,
                        level > declare_above,
                        entry.added_2023,
                        entry.uncertain,
                        materials,
                    )
                )

    def _violation(
        self, exposure: Exposure, binding: AppliedLimit, reported: float, materials: list[str]
    ) -> None:
        substance = exposure.substance
        self.violations.append(_violation_of(exposure, binding, binding.rule, reported, materials))
        self.reasons.append(
            f"{substance.name} at {exposure.level:.6g} % of the product is over "
            f"{_limit_words(binding)} ({binding.rule})."
        )

    def _review(self, exposure: Exposure, reported: float, materials: list[str]) -> None:
        rule = exposure.rule
        substance = rule.substance
        self.review.append(
            ReviewItem(
                substance=substance.name,
                cas=substance.label_cas,
                level_percent_in_product=reported,
                materials=materials,
                reason=rule.review_reason,
            )
        )
        self.reasons.append(
            f"Cannot certify {substance.name} ({exposure.level:.6g} % of the product): "
            f"{rule.missing_reason}"
        )

    def add_phototoxic_sum(self, category: str) -> float:
        """IFRA's additive rule: with more than one phototoxic substance present, the sum of
        level / limit must stay at or below 1 (each alone is already held to its limit)."""
        terms = self.phototoxic_terms
        total = sum(exposure.level / limit for exposure, limit in terms)
        if len(terms) > 1 and total > 1 + TOLERANCE_PERCENT:
            names = ", ".join(exposure.substance.name for exposure, _ in terms)
            self.reasons.append(
                f"Phototoxic materials together ({names}) reach {total:.3g} of their limits; "
                "IFRA's additive rule allows at most 1."
            )
            self.violations.append(_phototoxic_violation(terms, total, category))
        return total

    def upcoming_violations(self, exposures: list[Exposure]) -> list[Violation]:
        """The rules not binding yet but within the horizon that a level would break: rare,
        so looked for once, after the check."""
        found: list[Violation] = []
        for exposure in exposures:
            rule = exposure.rule
            if not rule.upcoming or exposure.level <= 0:
                continue
            for limit in rule.upcoming:
                if limit.prohibited or exposure.level > limit.allowed_percent + TOLERANCE_PERCENT:
                    when = limit.binding_from.isoformat() if limit.binding_from else "?"
                    found.append(
                        _violation_of(
                            exposure,
                            limit,
                            f"{when}, {limit.rule}",
                            round6(exposure.level),
                            list(exposure.contributions),
                        )
                    )
        return found

    @staticmethod
    def conditions(exposures: list[Exposure]) -> list[str]:
        seen: dict[str, None] = {}
        for exposure in exposures:
            if exposure.level > 0:
                for condition in exposure.substance.conditions:
                    seen[condition] = None
        return list(seen)

    def notes(self) -> list[str]:
        notes = []
        if self.uncertain_applied:
            notes.append(
                "Limits applied as binding but marked uncertain in the data (a secondary "
                "source or an older amendment): " + ", ".join(sorted(self.uncertain_applied)) + "."
            )
        if self.specifications:
            notes.append(
                "IFRA specification standards (purity criteria such as a peroxide value) apply "
                "to the grade of: " + ", ".join(sorted(self.specifications)) + "; the "
                "supplier's certificate must show them met."
            )
        return notes


def _violation_of(
    exposure: Exposure, limit: AppliedLimit, rule: str, reported: float, materials: list[str]
) -> Violation:
    substance = exposure.substance
    return Violation(
        substance=substance.name,
        cas=substance.label_cas,
        level_percent_in_product=reported,
        limit_percent_in_product=limit.figure_percent,
        rule=rule,
        limit_source=limit.source,
        limit_uncertain=limit.uncertain,
        materials=materials,
        contributions=_contributions(exposure.contributions),
    )


def _one_line_per_entry(allergens: list[AllergenLine], declare_above: float) -> list[AllergenLine]:
    """One line per Annex entry: several substances of the data may be one entry (lavender
    and lavandin oils are both entry 360, "Lavandula Oil/Extract"), and the labelling
    threshold applies to their sum."""
    by_label: dict[str, AllergenLine] = {}
    for line in allergens:
        first = by_label.get(line.inci)
        if first is None:
            by_label[line.inci] = line
            continue
        level = round6(first.level_percent_in_product + line.level_percent_in_product)
        by_label[line.inci] = AllergenLine(
            f"{first.substance} + {line.substance}",
            first.inci,
            first.cas,
            level,
            level > declare_above,
            first.added_2023 or line.added_2023,
            first.entry_uncertain or line.entry_uncertain,
            list(dict.fromkeys((*first.materials, *line.materials))),
        )
    return list(by_label.values())


def _limit_words(limit: AppliedLimit) -> str:
    if limit.prohibited:
        return "a prohibition"
    if limit.stated_percent is not None:
        return f"its limit (less than {limit.stated_percent:g} %)"
    return f"its {limit.allowed_percent:g} % limit"


def _phototoxic_violation(
    terms: list[tuple[Exposure, float]], total: float, category: str
) -> Violation:
    materials: dict[str, float] = {}
    for exposure, limit in terms:
        for name, level in exposure.contributions.items():
            materials[name] = materials.get(name, 0.0) + level / limit
    return Violation(
        substance="Phototoxic materials (sum of level / limit)",
        cas="",
        level_percent_in_product=round6(total),
        limit_percent_in_product=1.0,
        rule=f"IFRA additive rule for phototoxic ingredients, category {category}",
        limit_source="IFRA Guidance for the use of IFRA Standards, section 1.6.1",
        limit_uncertain=False,
        materials=list(materials),
        contributions=_contributions(materials),
    )


def _contributions(shares: dict[str, float]) -> list[Contribution]:
    return [Contribution(name, round6(level)) for name, level in shares.items()]


def label_threshold(profile: ProductProfile) -> float | None:
    """EU cosmetic allergen labelling: the level above which the label names an allergen;
    None where it does not apply (not a cosmetic)."""
    if not profile.cosmetic:
        return None
    if profile.leave_on:
        return LEAVE_ON_LABEL_THRESHOLD_PERCENT
    return RINSE_OFF_LABEL_THRESHOLD_PERCENT


def max_percent_in_concentrate(
    material: Ingredient, product: ProductType, dosage_percent: float, catalogue: Catalogue
) -> float:
    """The most of this material the concentrate can hold on its own, percent: the tightest
    `limit / (fraction x dosage) x 100` over the limited substances it brings, IFRA and EU
    alike. 0 when one of them is prohibited or cannot be certified, 100 when none is
    limited. Other materials bringing the same substances lower this further;
    `check_compliance` is the judge of a whole formula."""
    book = rule_book(catalogue, product)
    cap = 100.0
    for _, rule, fraction in book.shares_of(material):
        if fraction <= 0:
            continue
        if rule.missing_reason:
            return 0.0
        binding = rule.design_binding
        if binding is None:
            continue
        if binding.prohibited:
            return 0.0
        cap = min(cap, binding.allowed_percent / (fraction * dosage_percent) * 100)
    return cap


def lacks_figures(material: Ingredient, category: str) -> list[Substance]:
    """Restricted substances this material brings that have no figure in this category."""
    return [
        substance
        for substance, fraction in material.contributions
        if fraction > 0 and substance.lacks_figure_for(category)
    ]

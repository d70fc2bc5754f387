"""Designs IFRA-compliant, costed formulas from a creative brief."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from fragrance_ai.domain.brief import CreativeBrief, Intensity
from fragrance_ai.domain.catalogue import Catalogue, Ingredient, Tier
from fragrance_ai.domain.compliance import (
    ComplianceReport,
    Verdict,
    check_compliance,
    max_percent_in_concentrate,
)
from fragrance_ai.domain.families import canonical_family
from fragrance_ai.domain.formula import Formula, FormulaLine, cost_per_kg_eur
from fragrance_ai.domain.products import ProductProfile, product_profile

# Share of the concentrate per tier, in percent, by intensity. Stronger briefs lean on the
# base, which carries tenacity and projection; light ones on the top.
PYRAMIDS: dict[Intensity, dict[Tier, float]] = {
    Intensity.LIGHT: {Tier.TOP: 30, Tier.HEART: 35, Tier.BASE: 35},
    Intensity.MODERATE: {Tier.TOP: 25, Tier.HEART: 35, Tier.BASE: 40},
    Intensity.STRONG: {Tier.TOP: 20, Tier.HEART: 35, Tier.BASE: 45},
}
LONG_WEAR_HOURS = 8
SHORT_WEAR_HOURS = 4
PYRAMID_SHIFT = 5.0

LINES_PER_TIER: dict[Tier, int] = {Tier.TOP: 4, Tier.HEART: 4, Tier.BASE: 5}

SEASON_FAMILIES: dict[str, frozenset[str]] = {
    "summer": frozenset({"citrus", "fresh", "aquatic", "green"}),
    "spring": frozenset({"floral", "green", "fresh"}),
    "autumn": frozenset({"woody", "spicy", "amber", "fruity"}),
    "winter": frozenset({"amber", "gourmand", "spicy", "woody"}),
}
MOOD_FAMILIES: dict[str, frozenset[str]] = {
    "romantic": frozenset({"floral", "powdery"}),
    "sensual": frozenset({"amber", "musky"}),
    "elegant": frozenset({"floral", "powdery", "chypre"}),
    "playful": frozenset({"fruity", "gourmand"}),
    "energetic": frozenset({"citrus", "fresh"}),
    "uplifting": frozenset({"citrus", "fresh"}),
    "calm": frozenset({"aromatic", "woody"}),
    "cozy": frozenset({"gourmand", "amber"}),
    "mysterious": frozenset({"amber", "woody", "leather"}),
    "confident": frozenset({"woody", "leather"}),
    "nostalgic": frozenset({"chypre", "powdery"}),
    "modern": frozenset({"fresh", "musky"}),
    "luxurious": frozenset({"floral", "amber"}),
}
# With no family match a tier still needs materials that do its job.
TIER_FALLBACK_FAMILIES: dict[Tier, frozenset[str]] = {
    Tier.TOP: frozenset({"citrus", "fresh"}),
    Tier.HEART: frozenset({"floral"}),
    Tier.BASE: frozenset({"musky", "woody", "amber"}),
}

MAX_BUDGET_SWAPS = 12
MAX_COMPLIANCE_REPAIRS = 6
_CENTS = 100  # percentages are settled in hundredths


class DesignError(RuntimeError):
    """No formula satisfying the hard constraints could be built from the catalogue."""


@dataclass(frozen=True)
class DesignedFormula:
    formula: Formula
    compliance: ComplianceReport
    cost_per_kg_eur: float
    rationale: list[str]


@dataclass(frozen=True)
class _Plan:
    profile: ProductProfile
    dosage_percent: float
    tier_targets: dict[Tier, float]
    families: frozenset[str]
    named: tuple[Ingredient, ...]
    unknown_notes: tuple[str, ...]
    excluded: frozenset[str]  # CAS numbers the brief rules out
    avoided_families: frozenset[str]
    bias_families: frozenset[str]
    # Named in the brief but prohibited here or not certifiable (no figure in the data).
    unusable_named: tuple[Ingredient, ...] = ()


@dataclass
class _Line:
    ingredient: Ingredient
    low: int  # hundredths of a percent
    high: int
    weight: float
    named: bool
    amount: float = 0.0


@dataclass
class _Draft:
    lines: list[_Line]
    capped_by_ifra: list[str] = field(default_factory=list)


class RuleBasedDesigner:
    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    def design(self, brief: CreativeBrief, *, count: int = 1) -> list[DesignedFormula]:
        if count < 1:
            raise ValueError("count must be at least 1")
        plan = self._plan(brief)
        designs: list[DesignedFormula] = []
        seen: set[tuple[tuple[str, float], ...]] = set()
        for variant in range(count * 8):
            designed = self._design_variant(brief, plan, variant)
            fingerprint = tuple((line.cas, line.percent) for line in designed.formula.lines)
            if fingerprint not in seen:
                seen.add(fingerprint)
                designs.append(designed)
            if len(designs) == count:
                return designs
        raise DesignError(f"only {len(designs)} distinct variants could be built, {count} asked")

    # ------------------------------------------------------------------ planning

    def _plan(self, brief: CreativeBrief) -> _Plan:
        profile = product_profile(brief.product)
        excluded, avoided_families = resolve_avoid(self._catalogue, brief.avoid)
        named: list[Ingredient] = []
        unknown: list[str] = []
        for note in brief.notes:
            ingredient = self._catalogue.find(note)
            if ingredient is None:
                unknown.append(note)
            elif ingredient.cas not in excluded and ingredient not in named:
                named.append(ingredient)
        dosage = brief.dosage_percent or profile.default_dosage_percent
        unusable = tuple(
            i
            for i in named
            if max_percent_in_concentrate(i, profile.product, dosage, self._catalogue) == 0
        )
        return _Plan(
            unusable_named=unusable,
            profile=profile,
            dosage_percent=dosage,
            tier_targets=tier_targets(brief),
            families=frozenset(canonical_family(f) for f in brief.families),
            named=tuple(named),
            unknown_notes=tuple(unknown),
            excluded=frozenset(excluded),
            avoided_families=frozenset(avoided_families),
            bias_families=bias_families(brief),
        )

    # ------------------------------------------------------------------ one variant

    def _design_variant(self, brief: CreativeBrief, plan: _Plan, variant: int) -> DesignedFormula:
        dropped: set[str] = set()
        high_overrides: dict[str, int] = {}
        notes: list[str] = []
        for _ in range(MAX_BUDGET_SWAPS + MAX_COMPLIANCE_REPAIRS + 1):
            draft = self._draft(
                brief,
                plan,
                variant=variant,
                dropped=dropped,
                high_overrides=high_overrides,
                notes=notes,
            )
            formula = _to_formula(draft, brief, plan)
            report = check_compliance(formula, self._catalogue)
            if report.verdict is not Verdict.COMPLIANT:
                # Only `not_compliant` can be repaired here: materials the engine cannot
                # certify never enter a draft (`_bounds`), so a `cannot_certify` draft is a
                # bug and is refused rather than returned.
                if report.verdict is Verdict.CANNOT_CERTIFY or not self._repair(
                    formula, report, draft, high_overrides, dropped
                ):
                    break
                continue
            cost = cost_per_kg_eur(formula, self._catalogue)
            budget = brief.budget_per_kg_eur
            if budget is not None and cost > budget:
                priciest = _priciest_unnamed(draft)
                if priciest is not None and len(dropped) < MAX_BUDGET_SWAPS:
                    dropped.add(priciest.cas)
                    continue
            rationale = _rationale(brief, plan, draft, formula, cost=cost, notes=notes)
            return DesignedFormula(formula, report, cost, rationale)
        raise DesignError("could not build a compliant formula for this brief")

    def _repair(
        self,
        formula: Formula,
        report: ComplianceReport,
        draft: _Draft,
        high_overrides: dict[str, int],
        dropped: set[str],
    ) -> bool:
        """Cap each offending material at its share of the limit; swap it out if the cap
        falls below its typical minimum. False when nothing can change."""
        by_name = {line.ingredient.name: line for line in draft.lines}
        changed = False
        for violation in report.violations:
            ratio = violation.limit_percent_in_product / violation.level_percent_in_product
            names = violation.materials
            # Materials the brief did not name absorb the excess first, when they can.
            excess = violation.level_percent_in_product - violation.limit_percent_in_product
            unnamed = {
                c.material: c.level_percent_in_product
                for c in violation.contributions
                if c.material in by_name and not by_name[c.material].named
            }
            unnamed_level = sum(unnamed.values())
            if 0 < excess < unnamed_level:
                ratio = (unnamed_level - excess) / unnamed_level
                names = list(unnamed)
            for name in names:
                line = by_name.get(name)
                if line is None:
                    continue
                current = next(f.percent for f in formula.lines if f.cas == line.ingredient.cas)
                new_high = math.floor(current * ratio * _CENTS * 0.999)
                if new_high < line.low:
                    dropped.add(line.ingredient.cas)
                else:
                    high_overrides[line.ingredient.cas] = new_high
                changed = True
        return changed

    def _draft(
        self,
        brief: CreativeBrief,
        plan: _Plan,
        *,
        variant: int,
        dropped: set[str],
        high_overrides: dict[str, int],
        notes: list[str],
    ) -> _Draft:
        draft = _Draft(lines=[])
        targets = dict(plan.tier_targets)
        if variant:
            # Variants also breathe the pyramid a little, heart against base.
            swing = ((variant % 3) - 1) * 2.0
            targets[Tier.HEART] += swing
            targets[Tier.BASE] -= swing
        for tier in Tier:
            ranked = self._ranked_candidates(
                brief, plan, tier, variant=variant, dropped=dropped, high_overrides=high_overrides
            )
            if not ranked and plan.avoided_families:
                ranked = self._ranked_candidates(
                    brief,
                    plan,
                    tier,
                    variant=variant,
                    dropped=dropped,
                    high_overrides=high_overrides,
                    honour_families=False,
                )
                notes.append(
                    f"Avoided families left no {tier.value} material; family avoidance was "
                    f"relaxed for that tier (named materials stay excluded)."
                )
            if not ranked:
                raise DesignError(f"no usable {tier.value} material for this brief")
            wanted = LINES_PER_TIER[tier] + (variant % 2)
            chosen = [line for line in ranked if line.named]
            for line in ranked:
                if len(chosen) >= wanted and _capacity(chosen) >= targets[tier] * _CENTS:
                    break
                if line not in chosen:
                    chosen.append(line)
            draft.lines.extend(chosen)
        _allocate(draft.lines, targets)
        for line in draft.lines:
            ingredient = line.ingredient
            if line.high < round(ingredient.typical_use_max_percent * _CENTS):
                draft.capped_by_ifra.append(ingredient.name)
        return draft

    def _ranked_candidates(
        self,
        brief: CreativeBrief,
        plan: _Plan,
        tier: Tier,
        *,
        variant: int,
        dropped: set[str],
        high_overrides: dict[str, int],
        honour_families: bool = True,
    ) -> list[_Line]:
        named_cas = {ingredient.cas for ingredient in plan.named}
        scored: list[tuple[float, str, _Line]] = []
        for ingredient in self._catalogue.filter(tier=tier):
            if ingredient.cas in plan.excluded or ingredient.cas in dropped:
                continue
            if honour_families and plan.avoided_families.intersection(ingredient.families):
                continue
            named = ingredient.cas in named_cas
            bounds = self._bounds(ingredient, plan, named, high_overrides)
            if bounds is None:
                continue
            score = _score(ingredient, tier, plan, brief, named=named, variant=variant)
            low, high = bounds
            weight = (low + high) / 2 * (2.0 if named else 1.0)
            if brief.budget_per_kg_eur and ingredient.price_per_kg_eur > brief.budget_per_kg_eur:
                weight *= brief.budget_per_kg_eur / ingredient.price_per_kg_eur
            line = _Line(ingredient, low, high, weight, named)
            scored.append((score, ingredient.name, line))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [line for _, _, line in scored]

    def _bounds(
        self,
        ingredient: Ingredient,
        plan: _Plan,
        named: bool,
        high_overrides: dict[str, int],
    ) -> tuple[int, int] | None:
        """Allowed range in hundredths of a percent of the concentrate, or None if the
        material cannot be used at all in this product."""
        # The cap is 0 for a material that is prohibited (IFRA or EU) or limited by a
        # standard whose figure the data lacks: a formula holding it could not be
        # certified, so it is never proposed.
        cap = max_percent_in_concentrate(
            ingredient, plan.profile.product, plan.dosage_percent, self._catalogue
        )
        if cap == 0:
            return None
        low = math.ceil(ingredient.typical_use_min_percent * _CENTS - 1e-9)
        high = math.floor(ingredient.typical_use_max_percent * _CENTS + 1e-9)
        high = min(high, math.floor(cap * _CENTS + 1e-9))
        if ingredient.cas in high_overrides:
            high = min(high, high_overrides[ingredient.cas])
        if high < low:
            return None
        return low, high


def resolve_avoid(catalogue: Catalogue, avoid: list[str]) -> tuple[set[str], set[str]]:
    """What a brief's "no ..." words rule out: CAS numbers of materials, and families."""
    excluded: set[str] = set()
    families: set[str] = set()
    known_families = catalogue.families()
    for term in avoid:
        family = canonical_family(term)
        ingredient = catalogue.find(term)
        if ingredient is None and family in known_families:
            families.add(family)
            continue
        if ingredient is not None:
            excluded.add(ingredient.cas)
        # A word ("vanilla", "pepper", "lemon") rules out every material that mentions it, not
        # only the one it names: "no vanilla" means no vanillin and no ethyl vanillin either.
        needle = term.strip().lower()
        if len(needle) >= 3:
            excluded.update(i.cas for i in catalogue.filter(text=needle))
    return excluded, families


def bias_families(brief: CreativeBrief) -> frozenset[str]:
    """Families the brief's moods and seasons lean towards."""
    bias: set[str] = set()
    for season in brief.seasons:
        bias |= SEASON_FAMILIES.get(season.lower(), frozenset())
    for mood in brief.moods:
        bias |= MOOD_FAMILIES.get(mood.lower(), frozenset())
    return frozenset(bias)


def tier_targets(brief: CreativeBrief) -> dict[Tier, float]:
    """The pyramid a brief asks for, percent of the concentrate per tier: by intensity,
    shifted towards the base for long wear and towards the top for short wear or a cologne."""
    targets = dict(PYRAMIDS[brief.intensity])
    shift = 0.0
    if brief.longevity_hours is not None and brief.longevity_hours >= LONG_WEAR_HOURS:
        shift += PYRAMID_SHIFT
    if brief.longevity_hours is not None and brief.longevity_hours <= SHORT_WEAR_HOURS:
        shift -= PYRAMID_SHIFT
    if brief.product == "EDC":
        shift -= PYRAMID_SHIFT  # colognes are built top-heavy
    targets[Tier.TOP] -= shift
    targets[Tier.BASE] += shift
    return targets


def _score(
    ingredient: Ingredient,
    tier: Tier,
    plan: _Plan,
    brief: CreativeBrief,
    *,
    named: bool,
    variant: int,
) -> float:
    if named:
        return 1000.0
    families = set(ingredient.families)
    score = 10.0 * len(families & plan.families)
    if ingredient.families[0] in plan.families:
        score += 5
    score += 2.0 * len(families & plan.bias_families)
    score += 1.0 * len(families & TIER_FALLBACK_FAMILIES[tier])
    # Cheaper materials win ties; a budget turns that into a real preference.
    score -= 0.5 * math.log10(ingredient.price_per_kg_eur)
    budget = brief.budget_per_kg_eur
    if budget is not None and ingredient.price_per_kg_eur > budget:
        score -= 8.0 * math.log2(ingredient.price_per_kg_eur / budget)
    if variant:
        score += _jitter(ingredient.cas, variant) * 8.0
    return score


def _jitter(cas: str, variant: int) -> float:
    """A reproducible number in [0, 1): variants differ, but the same call always agrees."""
    digest = hashlib.sha256(f"{cas}:{variant}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _capacity(lines: list[_Line]) -> int:
    return sum(line.high for line in lines)


def _allocate(lines: list[_Line], targets: dict[Tier, float]) -> None:
    """Settle amounts so each line stays inside [low, high], tiers hit their targets as
    closely as the bounds allow, and the total is exactly 100.00."""
    by_tier = {tier: [line for line in lines if line.ingredient.tier == tier] for tier in Tier}
    floors = {tier: sum(line.low for line in by_tier[tier]) for tier in Tier}
    ceilings = {tier: sum(line.high for line in by_tier[tier]) for tier in Tier}
    total = 100 * _CENTS
    if sum(floors.values()) > total or sum(ceilings.values()) < total:
        raise DesignError("the chosen materials cannot make up exactly 100%")
    tier_amounts = {
        tier: min(max(targets[tier] * _CENTS, floors[tier]), ceilings[tier]) for tier in Tier
    }
    # Move any shortfall or excess to the tiers that still have room, in proportion to it.
    gap = total - sum(tier_amounts.values())
    if abs(gap) > 1e-9:
        room = {
            tier: (ceilings[tier] - tier_amounts[tier])
            if gap > 0
            else (tier_amounts[tier] - floors[tier])
            for tier in Tier
        }
        room_total = sum(room.values())
        for tier in Tier:
            tier_amounts[tier] += gap * room[tier] / room_total
    for tier in Tier:
        _fill(by_tier[tier], tier_amounts[tier])
    _settle_cents(lines)


def _fill(lines: list[_Line], target: float) -> None:
    """Water-filling: start every line at its minimum and pour the rest in proportion to
    weight, topping lines out at their maximum."""
    for line in lines:
        line.amount = float(line.low)
    remaining = target - sum(line.amount for line in lines)
    active = [line for line in lines if line.high > line.low]
    while remaining > 1e-9 and active:
        weight_total = sum(line.weight for line in active) or float(len(active))
        full = [
            line
            for line in active
            if remaining * _weight(line, weight_total, len(active)) >= line.high - line.amount
        ]
        if not full:
            for line in active:
                line.amount += remaining * _weight(line, weight_total, len(active))
            return
        for line in full:
            remaining -= line.high - line.amount
            line.amount = float(line.high)
            active.remove(line)


def _weight(line: _Line, weight_total: float, count: int) -> float:
    return line.weight / weight_total if weight_total else 1.0 / count


def _settle_cents(lines: list[_Line]) -> None:
    """Round to whole hundredths; the rounding remainder goes to the largest lines that can
    take it without leaving their bounds."""
    for line in lines:
        line.amount = float(min(max(round(line.amount), line.low), line.high))
    remainder = 100 * _CENTS - int(sum(line.amount for line in lines))
    step = 1 if remainder > 0 else -1
    for line in sorted(lines, key=lambda candidate: -candidate.amount):
        while remainder and line.low <= line.amount + step <= line.high:
            line.amount += step
            remainder -= step
        if not remainder:
            return
    if remainder:
        raise DesignError("could not settle the formula to exactly 100%")


def _to_formula(draft: _Draft, brief: CreativeBrief, plan: _Plan) -> Formula:
    tier_order = {tier: position for position, tier in enumerate(Tier)}
    ordered = sorted(draft.lines, key=lambda line: (tier_order[line.ingredient.tier], -line.amount))
    return Formula(
        lines=[
            FormulaLine(
                cas=line.ingredient.cas,
                name=line.ingredient.name,
                tier=line.ingredient.tier,
                percent=line.amount / _CENTS,
            )
            for line in ordered
        ],
        product=brief.product,
        dosage_percent=plan.dosage_percent,
    )


def _priciest_unnamed(draft: _Draft) -> Ingredient | None:
    # Only drop a line whose tier keeps at least one other material.
    candidates = [
        line.ingredient
        for line in draft.lines
        if not line.named
        and sum(1 for other in draft.lines if other.ingredient.tier == line.ingredient.tier) > 1
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda ingredient: ingredient.price_per_kg_eur)


def _rationale(
    brief: CreativeBrief,
    plan: _Plan,
    draft: _Draft,
    formula: Formula,
    *,
    cost: float,
    notes: list[str],
) -> list[str]:
    shares = formula.pyramid_shares()
    lines = [
        f"{plan.profile.label.capitalize()} at {plan.dosage_percent:g}% concentrate, "
        f"IFRA category {plan.profile.ifra_category}.",
        f"Pyramid top/heart/base {shares[Tier.TOP]:.1f}/{shares[Tier.HEART]:.1f}/"
        f"{shares[Tier.BASE]:.1f}% for a {brief.intensity.value} brief"
        + (f" lasting about {brief.longevity_hours:g} h." if brief.longevity_hours else "."),
    ]
    if plan.named:
        lines.append("Named in the brief: " + ", ".join(i.name for i in plan.named) + ".")
    if plan.unknown_notes:
        lines.append("Not in the catalogue, left out: " + ", ".join(plan.unknown_notes) + ".")
    matched = [
        line.ingredient.name
        for line in draft.lines
        if not line.named and plan.families.intersection(line.ingredient.families)
    ]
    if matched:
        lines.append(f"Chosen for {', '.join(sorted(plan.families))}: " + ", ".join(matched) + ".")
    if brief.avoid:
        lines.append("Avoided as asked: " + ", ".join(brief.avoid) + ".")
    if draft.capped_by_ifra:
        lines.append("Held under their IFRA limit: " + ", ".join(draft.capped_by_ifra) + ".")
    if plan.unusable_named:
        lines.append(
            "Named but left out, because they are prohibited in this product or the data has "
            "no IFRA figure to certify them: "
            + ", ".join(i.name for i in plan.unusable_named)
            + "."
        )
    budget = brief.budget_per_kg_eur
    if budget is None:
        lines.append(f"Concentrate cost about {cost:.2f} EUR/kg (no budget given).")
    elif cost <= budget:
        lines.append(f"Concentrate cost about {cost:.2f} EUR/kg, within {budget:g} EUR/kg.")
    else:
        lines.append(
            f"Concentrate cost about {cost:.2f} EUR/kg, over the {budget:g} EUR/kg budget: "
            "the named materials or the pyramid could not be made cheaper."
        )
    lines.extend(dict.fromkeys(notes))
    return lines

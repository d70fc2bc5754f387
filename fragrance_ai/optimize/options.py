"""From a finished search to the few options a perfumer is shown: formulas of the first
front that differ in character, each re-judged by the compliance engine, with a rationale
that says what it trades against the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fragrance_ai.domain.catalogue import Catalogue, Tier
from fragrance_ai.domain.compliance import ComplianceReport, Verdict, check_compliance
from fragrance_ai.domain.designer import DesignedFormula
from fragrance_ai.domain.families import canonical_family
from fragrance_ai.domain.formula import Formula, FormulaLine, cost_per_kg_eur
from fragrance_ai.domain.material_knowledge import BASE_OF_PRODUCT
from fragrance_ai.domain.material_knowledge_file import load_knowledge
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.repair import repair_formula
from fragrance_ai.optimize.ideas import idea_of, same_idea
from fragrance_ai.optimize.search import Individual, SearchRun
from fragrance_ai.optimize.space import SearchSpace, Vector

# Two options must differ in at least this share of the formula (half the L1 distance of
# their percentages), or the second is a copy with a tweak, not a choice.
MIN_OPTION_DISTANCE_PERCENT = 15.0
# Below this brief fit an option is not shown while a better one is; when none is better,
# every option says plainly that it fits the brief weakly.
WEAK_FIT = 0.6
# Character groups for the rationale, by a material's first family.
CHARACTERS = {
    "fresher": frozenset({"citrus", "fresh", "aquatic", "green", "aromatic"}),
    "warmer": frozenset({"amber", "spicy", "gourmand", "woody", "leather"}),
    "more floral": frozenset({"floral", "powdery", "fruity"}),
    "muskier": frozenset({"musky", "chypre"}),
}
_NOTICEABLE_POINTS = 3.0
_NOTICEABLE_PRICE = 0.10


@dataclass(frozen=True)
class Option:
    designed: DesignedFormula
    produced_by: str  # "nsga2" or "rule_based"
    scores: dict[str, float]
    generation: int | None


def distance_percent(first: Vector, second: Vector) -> float:
    """The share of the formula that differs, percent (0: identical, 100: nothing shared)."""
    return float(np.abs(first - second).sum() / 2)


def choose(
    run: SearchRun, count: int, *, strict: bool = True, closest: bool = False
) -> list[Individual]:
    """The best brief fit of the first front first, then, again and again, the formula
    farthest from those already chosen, front by front, as long as it differs enough in its
    proportions and in its idea (the materials that speak loudest). With a budget, formulas
    within it are chosen before any over it; a formula that fits the brief weakly is chosen
    only when no better-fitting one is left. `strict` is the idea test (see same_idea);
    `closest` adds, after every feasible formula, the compliant ones that come closest to
    the perfumery limits (for a design that found too few feasible ideas)."""
    feasible = sorted(
        (i for i in run.population if i.feasible),
        key=lambda i: (i.fit < WEAK_FIT, i.rank, -i.fit),
    )
    if not feasible or closest:
        # Nothing (or too little) keeps every perfumery limit: the compliant formulas that
        # come closest (the design says so in `unmet`), never a non-compliant one.
        feasible += sorted(
            (i for i in run.population if i.compliant and not i.feasible),
            key=lambda i: i.violation,
        )
    if any(i.fit >= WEAK_FIT for i in feasible):
        feasible = [i for i in feasible if i.fit >= WEAK_FIT]
    # Formulas met earlier in the run with an idea the final population lost: they keep a
    # choice open when the population has converged on one accord.
    held = {id(i) for i in feasible}
    earlier = sorted(
        (
            i
            for i in run.champions
            if id(i) not in held
            and (i.fit >= WEAK_FIT or not any(f.fit >= WEAK_FIT for f in feasible))
        ),
        key=lambda i: -i.fit,
    )
    for individual in earlier:
        individual.rank = max((i.rank for i in feasible), default=0) + 1
    feasible = [*feasible, *earlier]
    ideas = {id(i): idea_of(run.space, i.genome) for i in feasible}
    budget = run.space.cost_ceiling_eur_per_kg
    groups = [feasible]
    if budget is not None:
        groups = [[i for i in feasible if i.cost_per_kg_eur <= budget], feasible]
    chosen: list[Individual] = []
    for group in groups:
        for rank in sorted({i.rank for i in group}):
            pool = [
                i
                for i in group
                if i.rank <= rank
                and i not in chosen
                and not any(same_idea(ideas[id(i)], ideas[id(c)], strict=strict) for c in chosen)
            ]
            while len(chosen) < count and pool:
                if not chosen:
                    pick = pool[0]
                else:
                    gaps = [min(distance_percent(i.genome, c.genome) for c in chosen) for i in pool]
                    best = int(np.argmax(gaps))
                    if gaps[best] < MIN_OPTION_DISTANCE_PERCENT:
                        break
                    pick = pool[best]
                chosen.append(pick)
                # What shares the new pick's idea leaves the pool (it already differs from
                # every earlier pick).
                pool = [
                    i
                    for i in pool
                    if i is not pick and not same_idea(ideas[id(i)], ideas[id(pick)], strict=strict)
                ]
            if len(chosen) == count:
                return chosen
    return chosen


def settle_hundredths(formula: Formula) -> Formula:
    """Percentages in whole hundredths summing to exactly 100.00, the remainder on the
    largest line: what a lab weighs."""
    cents = [round(line.percent * 100) for line in formula.lines]
    largest = max(range(len(cents)), key=lambda i: cents[i])
    cents[largest] += 10_000 - sum(cents)
    lines = [
        line.model_copy(update={"percent": cent / 100})
        for line, cent in zip(formula.lines, cents, strict=True)
        if cent > 0
    ]
    return formula.model_copy(update={"lines": lines})


@dataclass(frozen=True)
class Verified:
    formula: Formula
    report: ComplianceReport
    # What the repair changed, when it had to; empty otherwise.
    note: str


def verified(formula: Formula, catalogue: Catalogue) -> Verified | None:
    """The formula as the engine judges it compliant: as is, or through the repair (the
    rounding to hundredths can tip a line a hair over its limit). None when neither holds."""
    report = check_compliance(formula, catalogue)
    if report.verdict is Verdict.COMPLIANT:
        return Verified(formula, report, "")
    repaired = repair_formula(formula, catalogue)
    if repaired.feasible and repaired.formula is not None and repaired.report.compliant:
        note = "Repaired after rounding: " + "; ".join(repaired.reasons)
        return Verified(repaired.formula, repaired.report, note)
    return None


def rationale(
    space: SearchSpace,
    option: Formula,
    others: Sequence[Formula],
    scores: dict[str, float],
    catalogue: Catalogue,
    *,
    found: str,
) -> list[str]:
    lines = [_trade_off(space, option, others, catalogue)]
    lines.append(_idea(space, option, catalogue))
    if scores.get("brief_fit", 1.0) < WEAK_FIT:
        lines.append(
            f"Fits the brief weakly (brief fit {scores['brief_fit']:.2f}, below {WEAK_FIT:g}): "
            "no better-fitting formula met every constraint."
        )
    named = {line.cas: line.percent for line in option.lines}
    if space.named:
        lines.append(
            "Named in the brief: "
            + ", ".join(
                f"{m.name} {named.get(m.cas, 0):.2f} % (range from {m.typical_use_min_percent:g} %)"
                for m in space.named
            )
            + "."
        )
    if space.unusable_named:
        lines.append(
            "Named but not usable here (prohibited in this product, not certifiable, or "
            "ruled out by the brief): " + ", ".join(m.name for m in space.unusable_named) + "."
        )
    if space.unknown_notes:
        lines.append("Not in the catalogue, left out: " + ", ".join(space.unknown_notes) + ".")
    if space.avoided_families:
        lines.append("No material of: " + ", ".join(sorted(space.avoided_families)) + ".")
    lines.extend(stability_warnings(option))
    shares = option.pyramid_shares()
    lines.append(
        f"Pyramid top/heart/base {shares[Tier.TOP]:.1f}/{shares[Tier.HEART]:.1f}/"
        f"{shares[Tier.BASE]:.1f} % (brief: "
        + "/".join(f"{share:g}" for share in space.tier_targets)
        + ")."
    )
    lines.append(
        "Scores: "
        + ", ".join(f"{name.replace('_', ' ')} {value:g}" for name, value in scores.items())
        + f"; {found}."
    )
    return lines


def _idea(space: SearchSpace, option: Formula, catalogue: Catalogue) -> str:
    """The option's olfactive idea as the formula holds it: the structure's accord, the hero
    (the loudest of its key and named materials) and the twist (the loudest material outside
    the structure's and the brief's families), each with its dose over its carrying dose."""
    knowledge = load_knowledge()
    keys = {name for group in space.structure.keys for name in group}
    keys |= {material.name for material in space.named}
    families = set(space.structure.families) | {canonical_family(f) for f in space.brief.families}

    def loudness(line: FormulaLine) -> float:
        return line.percent / knowledge.of(line.cas).carry_percent

    ranked = sorted(option.lines, key=loudness, reverse=True)
    hero = next((line for line in ranked if line.name in keys), None)
    twist = next(
        (
            line
            for line in ranked
            if line.name not in keys
            and canonical_family(catalogue.by_cas(line.cas).families[0]) not in families
        ),
        None,
    )
    words = f"Idea: {space.structure.name.lower()}, {space.structure.idea}"
    if hero is not None:
        words += (
            f"; hero {hero.name} at {hero.percent:.2f} % ({loudness(hero):.1f}x its carrying dose)"
        )
    if twist is not None:
        words += f"; twist {twist.name} ({loudness(twist):.1f}x)"
    return words + "."


def stability_warnings(option: Formula) -> list[str]:
    """What the product base does to the option's materials (vanillin browns in a lotion,
    citral breaks down in soap): one line per kind of risk, naming the materials at risk."""
    knowledge = load_knowledge()
    at_risk: dict[str, list[str]] = {}
    for line in option.lines:
        for risk in knowledge.of(line.cas).risks_in(option.product):
            kind = risk.risk.value.replace("_", " ")
            at_risk.setdefault(kind, []).append(f"{line.name} {line.percent:.2f} %")
    base = BASE_OF_PRODUCT[ProductType(option.product)].value
    return [
        f"Stability in the {base} base, {kind}: {', '.join(names)} (each used only at a dose "
        "that carries it; test the finished product)."
        for kind, names in at_risk.items()
    ]


def _trade_off(
    space: SearchSpace, option: Formula, others: Sequence[Formula], catalogue: Catalogue
) -> str:
    if not others:
        return "The only option that met every constraint."
    mine = _characters(option, catalogue)
    theirs = [_characters(other, catalogue) for other in others]
    words = []
    for name in CHARACTERS:
        average = sum(t[name] for t in theirs) / len(theirs)
        if mine[name] - average >= _NOTICEABLE_POINTS:
            words.append(name)
    cost = cost_per_kg_eur(option, catalogue)
    other_costs = [cost_per_kg_eur(other, catalogue) for other in others]
    average_cost = sum(other_costs) / len(other_costs)
    if cost <= average_cost * (1 - _NOTICEABLE_PRICE):
        words.append("cheaper")
    elif cost >= average_cost * (1 + _NOTICEABLE_PRICE):
        words.append("pricier")
    base = option.pyramid_shares()[Tier.BASE]
    other_base = sum(o.pyramid_shares()[Tier.BASE] for o in others) / len(others)
    if base - other_base >= _NOTICEABLE_POINTS:
        words.append("with a richer base")
    budget = space.brief.budget_per_kg_eur
    over = f", over the {budget:g} EUR/kg budget" if budget and cost > budget else ""
    if not words:
        return f"Close to the others in character and price ({cost:.2f} EUR/kg{over})."
    return (
        f"{words[0].capitalize()}{''.join(', ' + w for w in words[1:-1])}"
        f"{' and ' + words[-1] if len(words) > 1 else ''} than the other options "
        f"({cost:.2f} EUR/kg{over})."
    )


def _characters(formula: Formula, catalogue: Catalogue) -> dict[str, float]:
    shares = dict.fromkeys(CHARACTERS, 0.0)
    for line in formula.lines:
        family = canonical_family(catalogue.by_cas(line.cas).families[0])
        for name, families in CHARACTERS.items():
            if family in families:
                shares[name] += line.percent
    return shares

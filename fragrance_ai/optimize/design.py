"""Options for a brief: the rule-based designer seeds the search and stands behind it, NSGA-II
explores, and the options are the first front's most different members, each re-judged by
the compliance engine. One call, deterministic under the config's seed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.designer import DesignedFormula, DesignError, RuleBasedDesigner
from fragrance_ai.domain.formula import Formula, cost_per_kg_eur
from fragrance_ai.optimize.evaluate import Archive, evaluate, to_formula
from fragrance_ai.optimize.ideas import Idea, idea_of, same_idea
from fragrance_ai.optimize.options import (
    Option,
    Verified,
    choose,
    rationale,
    settle_hundredths,
    verified,
)
from fragrance_ai.optimize.search import GenerationStats, SearchConfig, SearchRun, run_search
from fragrance_ai.optimize.space import TIERS, SearchSpace, Vector, build_space

# Rule-based variants put into the first population: good starting points, not the answer.
SEEDS_FROM_RULES = 2
CANDIDATES_PER_OPTION = 3
# The fewest options a design offers where the search holds them (the settings ask 3 to 5).
MIN_OPTIONS = 3
NSGA2 = "nsga2"
RULE_BASED = "rule_based"


@dataclass(frozen=True)
class Design:
    options: list[Option]
    generations: list[GenerationStats]
    seed: int
    evaluations: int
    # Constraints of the brief that no option meets, in words (empty when all are met).
    unmet: list[str] = field(default_factory=list)
    # The structure the options are built on ("Chypre: the chypre contrast, ..."), and the
    # materials kept out of the search for this brief, with the reason.
    structure: str | None = None
    left_out: list[str] = field(default_factory=list)


def design_options(
    catalogue: Catalogue,
    brief: CreativeBrief,
    config: SearchConfig,
    *,
    count: int,
    seeds: int = SEEDS_FROM_RULES,
    made_before: Sequence[Formula] = (),
    on_generation: Callable[[GenerationStats], None] | None = None,
) -> Design:
    space = build_space(catalogue, brief)
    rules = RuleBasedDesigner(catalogue)
    try:
        seeded = rules.design(brief, count=seeds)
    except DesignError:
        seeded = []
    # Novelty is measured against what this brief already has, and against the template
    # the rules would give: a creative run should not hand back the rule book's answer.
    archive = Archive.of(space, [*made_before, *(s.formula for s in seeded)])
    run = run_search(
        space,
        config,
        archive=archive,
        seeds=[space.vector_of(s.formula)[0] for s in seeded],
        on_generation=on_generation,
    )
    picked = _pick(space, run, catalogue, count)
    formulas = [checked.formula for checked, *_ in picked]
    options = [
        Option(
            designed=DesignedFormula(
                checked.formula,
                checked.report,
                cost_per_kg_eur(checked.formula, catalogue),
                rationale(
                    space,
                    checked.formula,
                    [other for other in formulas if other is not checked.formula],
                    scores,
                    catalogue,
                    found=f"found in generation {born} of {config.generations}, seed {config.seed}",
                )
                + ([checked.note] if checked.note else []),
            ),
            produced_by=NSGA2,
            scores=scores,
            generation=born,
        )
        for checked, scores, born, _ in picked
    ]
    unmet = _limits_unmet(space, [kept for *_, kept in picked])
    if not options:
        unmet.append("the search found no compliant formula; the rule-based designer's stand")
        options = [_fallback(designed) for designed in seeded]
    unmet += _brief_unmet(space, options)
    return Design(
        options=options,
        generations=run.generations,
        seed=config.seed,
        evaluations=run.evaluations,
        unmet=unmet,
        structure=f"{space.structure.name}: {space.structure.idea}",
        left_out=[f"{name} ({why})" for name, why in space.vetoed],
    )


# The verified formula, its scores, the generation it was born in, whether it kept every
# perfumery limit.
Picked = tuple[Verified, dict[str, float], int, bool]


def _pick(space: SearchSpace, run: SearchRun, catalogue: Catalogue, count: int) -> list[Picked]:
    """Options whose ideas differ clearly; when the search holds fewer than MIN_OPTIONS such,
    the rest differ in their loudest three at least, so the perfumer still has a choice."""
    picked: list[Picked] = []
    ideas: list[Idea] = []
    chosen: set[int] = set()
    # Clearly different feasible ideas first; then, only to reach MIN_OPTIONS, ideas that
    # differ in their loudest three; then the compliant formulas closest to the limits.
    for strict, closest in ((True, False), (False, False), (False, True)):
        if not strict and len(picked) >= MIN_OPTIONS:
            break
        # More candidates than options: rounding to hundredths can reorder a formula's
        # loudest materials, so ideas are compared again on the formulas as they are weighed.
        candidates = choose(run, count * CANDIDATES_PER_OPTION, strict=strict, closest=closest)
        for individual in candidates:
            if len(picked) == (count if strict else MIN_OPTIONS):
                break
            if id(individual) in chosen:
                continue
            formula = settle_hundredths(to_formula(space, individual.genome))
            checked = verified(formula, catalogue)
            if checked is None:
                continue
            weighed = space.vector_of(checked.formula)[0]
            kept = carries_its_keys(space, weighed) and (
                not individual.feasible or _keeps_its_limits(space, run, weighed)
            )
            if not kept and not closest:
                # Rounding or the compliance repair took a key note under its carrying dose,
                # or the formula over a limit it kept (a leave-on musk floor by 0.01 %).
                continue
            idea = idea_of(space, weighed)
            if any(same_idea(idea, other, strict=strict) for other in ideas):
                continue
            ideas.append(idea)
            scores = {
                "brief_fit": round(individual.fit, 4),
                "pyramid_balance": round(individual.pyramid_balance, 4),
                "cost_per_kg_eur": round(individual.cost_per_kg_eur, 2),
                "novelty": round(individual.novelty, 4),
            }
            picked.append((checked, scores, individual.born, individual.feasible and kept))
            chosen.add(id(individual))
    return picked


# A formula is weighed in hundredths: a dose within this of the carrying dose carries.
WEIGHING_STEP_PERCENT = 0.01


def carries_its_keys(space: SearchSpace, vector: Vector) -> bool:
    """Every key group of the accord has a member at its carrying dose (or its most allowed
    here), as the formula will be weighed."""
    return all(
        bool((vector[group] >= space.carry[group] - WEIGHING_STEP_PERCENT).any())
        for group in space.key_groups
    )


def _keeps_its_limits(space: SearchSpace, run: SearchRun, vector: Vector) -> bool:
    judged = evaluate(space, vector[None, :], run.config.objectives, Archive.empty(space))
    return bool(judged.feasible[0])


def _limits_unmet(space: SearchSpace, kept_limits: list[bool]) -> list[str]:
    """The perfumery limits the options could not keep, or had to be moved for the brief."""
    unmet = []
    missed = kept_limits.count(False)
    if missed:
        verb = "is" if missed == 1 else "are"
        which = (
            "the options are"
            if missed == len(kept_limits)
            else f"{missed} of the {len(kept_limits)} options {verb}"
        )
        unmet.append(
            "the search found too few formulas that keep every perfumery limit (the genre's "
            "base and musk ranges, the product's cost ceiling, what its base dissolves); "
            f"{which} the compliant formulas that come closest"
        )
    ceiling = space.hard_cost_ceiling_eur_per_kg
    product_ceiling = space.product_base.cost_ceiling_eur_per_kg
    if ceiling is not None and product_ceiling is not None and ceiling > product_ceiling:
        unmet.append(
            f"the named materials alone cost more than a {space.product_base.base.value} "
            f"base's {space.product_base.cost_ceiling_eur_per_kg:g} EUR/kg allows; the "
            f"ceiling was raised to {ceiling:.2f} EUR/kg"
        )
    return unmet


def _brief_unmet(space: SearchSpace, options: list[Option]) -> list[str]:
    """What the brief asked that no option meets: its budget, a named material, a tier."""
    unmet = [
        f"{name} is too dear for a {space.product_base.base.value} base; its note is carried "
        f"by one of {', '.join(n for n in group if n != name)}"
        for name, group in space.stand_ins
    ]
    budget = space.brief.budget_per_kg_eur
    if budget is not None and options:
        cheapest = min(option.designed.cost_per_kg_eur for option in options)
        if cheapest > budget:
            unmet.append(
                f"no option meets the budget of {budget:g} EUR/kg; the cheapest costs "
                f"{cheapest:.2f} EUR/kg"
            )
    if space.unusable_named:
        names = ", ".join(m.name for m in space.unusable_named)
        unmet.append(f"named but not usable here: {names}")
    for tier, pool in zip(TIERS, space.tier_pools, strict=True):
        if pool.size == 0:
            unmet.append(f"the brief leaves no usable {tier.value} material")
    return unmet


def _fallback(designed: DesignedFormula) -> Option:
    return Option(designed=designed, produced_by=RULE_BASED, scores={}, generation=None)

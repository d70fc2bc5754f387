"""The search itself: deterministic under a seed, better than random search for the same
number of evaluations, the modes really differ, the fast sort gives DEAP's fronts, and the
vectorised evaluation agrees with the line-by-line reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from deap import tools

from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.optimize.design import design_options
from fragrance_ai.optimize.evaluate import Archive, Objective, evaluate, evaluate_one
from fragrance_ai.optimize.operators import mutate, random_formula
from fragrance_ai.optimize.options import MIN_OPTION_DISTANCE_PERCENT, distance_percent
from fragrance_ai.optimize.search import hypervolume, random_search, run_search
from fragrance_ai.optimize.space import build_space
from fragrance_ai.settings import InferenceMode
from tests.optimize.conftest import CATALOGUE, brief_of, config_for, designed

CITRUS = "fresh citrus cologne for summer with lemon and bergamot"
AMBER = "warm oriental evening eau de parfum with vanilla and amber"


def test_the_same_seed_gives_the_same_options_and_another_seed_others() -> None:
    brief = brief_of(CITRUS)
    config = config_for(InferenceMode.FAST, seed=3)
    first = design_options(CATALOGUE, brief, config, count=4)
    again = design_options(CATALOGUE, brief, config, count=4)
    other = design_options(CATALOGUE, brief, config_for(InferenceMode.FAST, seed=4), count=4)

    def lines(design: object) -> list[list[tuple[str, float]]]:
        return [
            [(line.cas, line.percent) for line in option.designed.formula.lines]
            for option in design.options  # type: ignore[attr-defined]
        ]

    assert lines(first) == lines(again)
    assert [g.hypervolume for g in first.generations] == [g.hypervolume for g in again.generations]
    assert lines(first) != lines(other)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_nsga2_beats_random_search_with_the_same_evaluations(seed: int) -> None:
    space = build_space(CATALOGUE, brief_of(AMBER))
    config = config_for(InferenceMode.BALANCED, seed=seed)
    archive = Archive.empty(space)
    run = run_search(space, config, archive=archive)
    baseline = random_search(space, config, archive=archive, evaluations=run.evaluations)
    final = hypervolume(run.population, config.objectives)
    assert final > baseline
    # It also improved on its own first generation.
    assert final > run.generations[0].hypervolume


def test_the_modes_search_differently_and_creative_options_differ_most() -> None:
    spreads = {}
    for mode in InferenceMode:
        design = designed(CITRUS, mode)
        config = config_for(mode)
        assert len(design.generations) == config.generations + 1
        vectors = [
            build_space(CATALOGUE, brief_of(CITRUS)).vector_of(o.designed.formula)[0]
            for o in design.options
        ]
        spreads[mode] = np.mean(
            [distance_percent(a, b) for a, b in itertools.combinations(vectors, 2)]
        )
    populations = {config_for(mode).population for mode in InferenceMode}
    assert len(populations) == 3
    fast = {
        o.designed.formula.model_dump_json() for o in designed(CITRUS, InferenceMode.FAST).options
    }
    creative = {
        o.designed.formula.model_dump_json()
        for o in designed(CITRUS, InferenceMode.CREATIVE).options
    }
    assert fast != creative
    # Every mode's options now differ in idea (options.choose), so their spread no longer
    # tells the modes apart; what creative adds is novelty against what the brief already
    # has (the rule-based template), which it searches for and fast does not.
    assert all(spread >= MIN_OPTION_DISTANCE_PERCENT for spread in spreads.values())
    novelty = {
        mode: np.mean([o.scores["novelty"] for o in designed(CITRUS, mode).options])
        for mode in (InferenceMode.FAST, InferenceMode.CREATIVE)
    }
    assert novelty[InferenceMode.CREATIVE] > novelty[InferenceMode.FAST]


def test_the_logarithmic_sort_gives_the_standard_fronts() -> None:
    space = build_space(CATALOGUE, brief_of(AMBER))
    # Two runs' populations together: several fronts, ties, infeasible formulas.
    mixed = [
        individual
        for seed in (5, 6)
        for individual in run_search(
            space, config_for(InferenceMode.CREATIVE, seed=seed), archive=Archive.empty(space)
        ).population
    ]

    def fronts(sort: object) -> list[set[int]]:
        return [{id(i) for i in front} for front in sort(mixed, len(mixed))]  # type: ignore[operator]

    assert fronts(tools.sortLogNondominated) == fronts(tools.sortNondominated)


def test_the_vectorised_evaluation_agrees_with_the_line_by_line_one() -> None:
    space = build_space(CATALOGUE, brief_of(CITRUS))
    rng = np.random.default_rng(11)
    vectors = [random_formula(space, rng) for _ in range(40)]
    archive = Archive.of(
        space, [design.designed.formula for design in designed(CITRUS, InferenceMode.FAST).options]
    )
    together = evaluate(space, np.array(vectors), tuple(Objective), archive)
    for row, vector in enumerate(vectors):
        one = evaluate_one(space, vector, archive, CATALOGUE)
        assert together.fit[row] == pytest.approx(one.fit)
        assert together.pyramid_balance[row] == pytest.approx(one.pyramid_balance)
        assert together.cost_per_kg_eur[row] == pytest.approx(one.cost_per_kg_eur)
        assert together.novelty[row] == pytest.approx(one.novelty)
        assert bool(together.feasible[row]) is one.compliant
    assert 0 < together.feasible.sum() < len(vectors) or together.feasible.all()


def test_every_formula_the_operators_make_keeps_the_hard_constraints() -> None:
    space = build_space(CATALOGUE, brief_of("white floral with jasmine and tuberose, no citrus"))
    rng = np.random.default_rng(2)
    vectors = [random_formula(space, rng) for _ in range(30)]
    vectors += [mutate(v, space, rng, steps=3) for v in vectors]
    for vector in vectors:
        present = vector > 0
        assert vector.sum() == pytest.approx(100)
        assert space.min_materials <= present.sum() <= space.max_materials
        assert (vector[space.required] >= space.low[space.required] - 1e-9).all()
        assert (vector[present] <= space.high[present] + 1e-6).all()
        assert all(vector[pool].any() for pool in space.tier_pools)


def test_a_brief_that_rules_out_a_whole_tier_says_so() -> None:
    top_families = ["citrus", "fresh", "green", "aromatic", "aquatic", "fruity", "spicy", "floral"]
    brief = CreativeBrief(families=["woody"], avoid=[*top_families, "herbal", "aldehydic"])
    design = design_options(CATALOGUE, brief, config_for(InferenceMode.FAST), count=3)
    space = build_space(CATALOGUE, brief)
    if all(pool.size for pool in space.tier_pools):
        pytest.skip("the catalogue still has a top material outside these families")
    assert any("no usable top material" in reason for reason in design.unmet)
    assert all(o.designed.compliance.compliant for o in design.options)


def test_a_budget_no_formula_meets_is_reported() -> None:
    brief = CreativeBrief(families=["floral"], notes=["Jasmine absolute"], budget_per_kg_eur=1)
    design = design_options(CATALOGUE, brief, config_for(InferenceMode.FAST), count=3)
    assert design.options
    assert any("budget of 1 EUR/kg" in reason for reason in design.unmet)

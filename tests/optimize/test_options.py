"""What a perfumer gets for briefs of different character: several compliant options that
really differ, carry what the brief names, keep out what it forbids, and fit the brief
better than the rule-based designer's formula."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fragrance_ai.domain.compliance import Verdict, check_compliance
from fragrance_ai.domain.designer import RuleBasedDesigner
from fragrance_ai.domain.families import canonical_family
from fragrance_ai.domain.material_knowledge_file import load_knowledge
from fragrance_ai.optimize.evaluate import Archive, Objective, evaluate
from fragrance_ai.optimize.options import MIN_OPTION_DISTANCE_PERCENT, distance_percent
from fragrance_ai.optimize.space import build_space
from tests.optimize.conftest import CATALOGUE, brief_of, designed

BRIEFS = [
    "fresh citrus cologne for summer with lemon and bergamot",
    "warm oriental evening eau de parfum with vanilla and amber, rich and long lasting",
    "green fig scent with fig leaf and a woody base",
    "white floral with jasmine and tuberose, no citrus",
    "a cheap fruity body lotion",
    "rose oud parfum, dark and luxurious",
    "상큼한 시트러스와 가벼운 머스크, 여름에 어울리는 데일리 향수",
]


@pytest.mark.parametrize("text", BRIEFS)
def test_each_brief_gets_several_compliant_options_that_differ_and_fit(text: str) -> None:
    design = designed(text)
    brief = brief_of(text)
    space = build_space(CATALOGUE, brief)
    options = [option.designed.formula for option in design.options]
    assert len(options) >= 3
    assert {option.produced_by for option in design.options} == {"nsga2"}
    for formula in options:
        assert check_compliance(formula, CATALOGUE).verdict is Verdict.COMPLIANT
        assert sum(line.percent for line in formula.lines) == pytest.approx(100, abs=1e-6)
        amounts = {line.cas: line.percent for line in formula.lines}
        for material in space.named:
            assert amounts.get(material.cas, 0) >= material.typical_use_min_percent - 1e-9
        for line in formula.lines:
            families = {canonical_family(f) for f in CATALOGUE.by_cas(line.cas).families}
            assert not families & space.avoided_families, (line.name, space.avoided_families)
    vectors = [space.vector_of(formula)[0] for formula in options]
    for first, second in itertools.combinations(vectors, 2):
        assert distance_percent(first, second) >= MIN_OPTION_DISTANCE_PERCENT
    # Brief fit of each option, and of the rule-based designer's formula, on one scale.
    rules = RuleBasedDesigner(CATALOGUE).design(brief)[0].formula
    fit_only = (Objective.BRIEF_FIT,)
    fits = evaluate(space, np.array(vectors), fit_only, Archive.empty(space)).fit
    rule_vector = np.array([space.vector_of(rules)[0]])
    rule_fit = evaluate(space, rule_vector, fit_only, Archive.empty(space)).fit[0]
    assert fits.max() > rule_fit


def test_named_materials_are_dosed_to_carry_their_note() -> None:
    design = designed(BRIEFS[0])
    lemon = CATALOGUE.by_cas("8008-56-8")
    carry = load_knowledge().of(lemon.cas).carry_percent
    for option in design.options:
        amounts = {line.name: line.percent for line in option.designed.formula.lines}
        assert amounts["Lemon oil"] >= max(lemon.typical_use_min_percent, carry)


def test_a_budget_word_makes_the_options_cheaper() -> None:
    cheap = designed("a cheap fruity body lotion")
    plain = designed("a fruity body lotion")
    assert brief_of("a cheap fruity body lotion").budget_per_kg_eur is not None
    cheap_costs = [o.designed.cost_per_kg_eur for o in cheap.options]
    plain_costs = [o.designed.cost_per_kg_eur for o in plain.options]
    # A lotion is held to its product's ceiling anyway; the word moves the whole set lower.
    assert np.mean(cheap_costs) < np.mean(plain_costs)
    assert max(cheap_costs) < max(plain_costs)


def test_every_option_explains_what_it_trades() -> None:
    design = designed(BRIEFS[1])
    first_lines = [option.designed.rationale[0] for option in design.options]
    assert len(set(first_lines)) == len(first_lines)
    for option in design.options:
        assert any("Scores:" in line and "generation" in line for line in option.designed.rationale)

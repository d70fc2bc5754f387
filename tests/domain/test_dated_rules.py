"""Rules read for a date, limits a level may not reach, and a substance banned as such but
allowed as the natural content of an essence (issue 24)."""

from __future__ import annotations

from datetime import date

import pytest

from fragrance_ai.domain.catalogue import Tier
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.compliance import Verdict, check_compliance, max_percent_in_concentrate
from fragrance_ai.domain.formula import Formula, FormulaLine
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.rules import rule_book

CATALOGUE = load_catalogue()


def _formula(name: str, percent: float, product: ProductType, dosage: float) -> Formula:
    material = CATALOGUE.find(name)
    assert material is not None, name
    filler = CATALOGUE.find("Hedione")
    assert filler is not None
    return Formula(
        lines=[
            FormulaLine(cas=material.cas, name=material.name, tier=material.tier, percent=percent),
            FormulaLine(cas=filler.cas, name=filler.name, tier=Tier.HEART, percent=100 - percent),
        ],
        product=product,
        dosage_percent=dosage,
    )


@pytest.mark.parametrize(
    ("percent_of_concentrate", "verdict"),
    [(3.75, Verdict.NOT_COMPLIANT), (3.7499, Verdict.COMPLIANT)],
)
def test_a_clp_limit_is_broken_at_the_limit_itself_not_only_above_it(
    percent_of_concentrate: float, verdict: Verdict
) -> None:
    # Lilial is Repr. 1B: REACH Annex XVII forbids a mixture for the public holding it at or
    # above 0.3 %. A candle at 8 %: 3.75 % of the concentrate is exactly 0.3 % of the candle.
    formula = _formula("Lilial", percent_of_concentrate, ProductType.CANDLE, 8)
    report = check_compliance(formula, CATALOGUE)
    assert report.verdict is verdict, report.reasons
    if verdict is Verdict.NOT_COMPLIANT:
        [violation] = report.violations
        assert violation.limit_percent_in_product == 0.3
        assert "at or above 0.3 %" in violation.rule


def test_the_designers_cap_for_an_at_or_above_limit_stays_below_it() -> None:
    cap = max_percent_in_concentrate(CATALOGUE.find("Lilial"), ProductType.CANDLE, 8, CATALOGUE)  # type: ignore[arg-type]
    assert cap < 3.75
    assert cap == pytest.approx(3.75, abs=1e-6)
    at_cap = check_compliance(_formula("Lilial", cap, ProductType.CANDLE, 8), CATALOGUE)
    assert at_cap.verdict is Verdict.COMPLIANT, at_cap.reasons


def test_the_matrix_holds_only_substances_some_material_brings() -> None:
    book = rule_book(CATALOGUE, ProductType.EDP)
    brought = {
        substance.id
        for material in CATALOGUE
        for substance, fraction in material.contributions
        if fraction > 0
    }
    plain_columns = {column for column in book.substance_ids if "#" not in column}
    assert plain_columns == brought
    assert book.fractions.shape == (len(CATALOGUE), len(book.substance_ids))
    # Every substance still has its rule, for a perfumer's declared composition.
    assert set(book.rules) == set(CATALOGUE.substances)


def test_a_report_says_which_date_its_rules_were_read_for() -> None:
    formula = _formula("Lilial", 1, ProductType.CANDLE, 8)
    dated = check_compliance(formula, CATALOGUE, as_of=date(2026, 12, 7))
    assert dated.as_of == date(2026, 12, 7)
    assert "2026-12-07" in dated.rule_set
    undated = check_compliance(formula, CATALOGUE)
    assert undated.as_of is None
    assert "every rule adopted" in undated.rule_set

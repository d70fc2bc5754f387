"""Rules read for a date, limits a level may not reach, and a substance banned as such but
allowed as the natural content of an essence (issue 24)."""

from __future__ import annotations

from datetime import date

import pytest

from fragrance_ai.domain.catalogue import Tier
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.compliance import (
    ComplianceReport,
    Verdict,
    check_compliance,
    max_percent_in_concentrate,
)
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


def test_methyl_eugenol_added_as_such_is_prohibited_but_its_natural_content_is_limited() -> None:
    from fragrance_ai.domain.declared_formula import DeclaredLine, read_declared_formula

    def check(*lines: DeclaredLine) -> ComplianceReport:
        filler = DeclaredLine(name="Hedione", cas=None, percent=100 - sum(x.percent for x in lines))
        checked = read_declared_formula([*lines, filler], ProductType.EDP, 18, CATALOGUE)
        return check_compliance(checked.formula, CATALOGUE, own_materials=checked.own)

    isolated = check(DeclaredLine(name=None, cas="93-15-2", percent=0.01))
    # 0.01 % of an EDP at 18 % is 0.0018 % of the product, under the 0.01 % fine-fragrance
    # maximum: only the ban on the isolate catches it.
    assert isolated.verdict is Verdict.NOT_COMPLIANT
    [violation] = isolated.violations
    assert "only as natural content" in violation.rule
    rose = check(DeclaredLine(name="Rose oil", cas=None, percent=1))
    assert not [v for v in rose.violations if v.substance == "Methyl eugenol"]
    both = check(
        DeclaredLine(name="Rose oil", cas=None, percent=1),
        DeclaredLine(name=None, cas="93-15-2", percent=0.01),
    )
    [violation] = [v for v in both.violations if v.substance == "Methyl eugenol"]
    assert "only as natural content" in violation.rule


def test_a_2026_909_limit_is_upcoming_before_2027_and_binding_from_its_first_day() -> None:
    # Benzyl salicylate: IFRA Category 4 allows 7.3 %; Regulation (EU) 2026/909 sets 4 % in
    # fine fragrance for products placed on the market from 2027-01-01. 25 % of an EDP's
    # concentrate at 18 % is 4.5 % of the product.
    formula = _formula("Benzyl salicylate", 25, ProductType.EDP, 18)
    before = check_compliance(formula, CATALOGUE, as_of=date(2026, 12, 7))
    assert before.verdict is Verdict.COMPLIANT, before.reasons
    [upcoming] = before.upcoming_violations
    assert upcoming.substance == "Benzyl salicylate"
    assert upcoming.limit_percent_in_product == 4.0
    assert upcoming.rule.startswith("2027-01-01")
    assert "2026/909" in upcoming.rule
    on_the_day = check_compliance(formula, CATALOGUE, as_of=date(2027, 1, 1))
    assert on_the_day.verdict is Verdict.NOT_COMPLIANT
    [violation] = on_the_day.violations
    assert "2026/909" in violation.rule
    assert on_the_day.upcoming_violations == []
    # Beyond the horizon the rule is not yet reported; with no date every adopted rule binds.
    early = check_compliance(formula, CATALOGUE, as_of=date(2025, 6, 1))
    assert early.verdict is Verdict.COMPLIANT
    assert early.upcoming_violations == []
    assert check_compliance(formula, CATALOGUE).verdict is Verdict.NOT_COMPLIANT


def test_oakmoss_passes_only_with_the_low_atranol_condition_printed() -> None:
    # 0.2 % oakmoss absolute in an EDP at 18 % is 0.036 % of the product, under IFRA's 0.1 %.
    report = check_compliance(_formula("Oakmoss absolute", 0.2, ProductType.EDP, 18), CATALOGUE)
    assert report.verdict is Verdict.COMPLIANT
    [atranol] = [c for c in report.conditions if "atranol" in c]
    assert "low-atranol grade is required" in atranol
    assert "Annex II entries 1381 and 1382" in atranol
    assert any("atranol" in note for note in report.notes)
    # A formula without oakmoss carries no such condition.
    plain = check_compliance(_formula("Linalool", 5, ProductType.EDP, 18), CATALOGUE)
    assert not [c for c in plain.conditions if "atranol" in c]


def test_before_a_standards_deadline_the_earlier_figure_is_unknown_never_no_limit() -> None:
    # Geraniol's Standard of the 51st Amendment binds new creations from 2024-03-30; on
    # 2023-06-01 the 49th Amendment's figure bound, which the data does not hold.
    formula = _formula("Geraniol", 2, ProductType.EDP, 18)
    before = check_compliance(formula, CATALOGUE, as_of=date(2023, 6, 1))
    assert before.verdict is Verdict.CANNOT_CERTIFY, before.reasons
    assert any("2024-03-30" in item.reason for item in before.review)
    after = check_compliance(formula, CATALOGUE, as_of=date(2024, 3, 30))
    assert after.verdict is Verdict.COMPLIANT, after.reasons


def test_lavender_and_lavandin_are_one_allergen_line_declared_on_their_sum() -> None:
    # Annex III entry 360 covers both oils, which are the entry themselves. In a shower gel
    # (rinse-off: labelled above 0.01 %) at 1 %, 0.6 % of each oil is 0.006 % of the gel: under
    # the threshold alone, 0.012 % together.
    names = ("Lavender oil", "Lavandin oil", "Hedione")
    lavender, lavandin, filler = (CATALOGUE.find(name) for name in names)
    assert lavender is not None
    assert lavandin is not None
    assert filler is not None
    formula = Formula(
        lines=[
            FormulaLine(cas=m.cas, name=m.name, tier=m.tier, percent=p)
            for m, p in ((lavender, 0.6), (lavandin, 0.6), (filler, 98.8))
        ],
        product=ProductType.SHOWER_GEL,
        dosage_percent=1,
    )
    report = check_compliance(formula, CATALOGUE)
    [line] = [a for a in report.allergens if a.inci == "Lavandula Oil/Extract"]
    assert line.level_percent_in_product == pytest.approx(0.012)
    assert line.declare
    assert set(line.materials) == {"Lavender oil", "Lavandin oil"}

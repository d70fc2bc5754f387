import pytest

from fragrance_ai.domain.catalogue import Tier, load_catalogue
from fragrance_ai.domain.compliance import check_compliance
from fragrance_ai.domain.formula import Formula, FormulaLine, cost_per_kg_eur
from fragrance_ai.domain.products import ProductType

OAKMOSS = FormulaLine(cas="90028-68-5", name="Oakmoss absolute", tier=Tier.BASE, percent=0.8)


def _formula(
    *lines: FormulaLine, product: ProductType = ProductType.EDP, dosage: float = 18
) -> Formula:
    filler = FormulaLine(
        cas="24851-98-7",
        name="Hedione",
        tier=Tier.HEART,
        percent=round(100 - sum(line.percent for line in lines), 2),
    )
    return Formula(lines=[*lines, filler], product=product, dosage_percent=dosage)


def test_oakmoss_over_its_category_4_limit_in_an_edp() -> None:
    # 0.8% of the concentrate x 18% dosage = 0.144% in the product, limit 0.1%.
    report = check_compliance(_formula(OAKMOSS), load_catalogue())
    assert not report.compliant
    assert report.ifra_category == "4"
    assert report.checked_substances == 2
    [violation] = report.violations
    assert violation.cas == "90028-68-5"
    assert violation.level_percent_in_product == pytest.approx(0.144)
    assert violation.limit_percent_in_product == pytest.approx(0.1)
    assert violation.materials == ["Oakmoss absolute"]


def test_oakmoss_at_exactly_its_limit_is_compliant() -> None:
    # 0.5% x 20% = 0.1%, exactly the limit.
    at_limit = OAKMOSS.model_copy(update={"percent": 0.5})
    report = check_compliance(_formula(at_limit, dosage=20), load_catalogue())
    assert report.compliant
    assert report.violations == []


def test_body_lotion_uses_category_5a() -> None:
    # 8% x 1% = 0.08% > 0.076% (Cat 5A), though it would pass Cat 4.
    line = OAKMOSS.model_copy(update={"percent": 8.0})
    report = check_compliance(
        _formula(line, product=ProductType.BODY_LOTION, dosage=1), load_catalogue()
    )
    assert report.ifra_category == "5A"
    assert [v.level_percent_in_product for v in report.violations] == [pytest.approx(0.08)]


def test_prohibited_material_fails_at_any_level() -> None:
    lilial = FormulaLine(cas="80-54-6", name="Lilial", tier=Tier.HEART, percent=0.01)
    report = check_compliance(_formula(lilial), load_catalogue())
    assert not report.compliant
    assert report.violations[0].limit_percent_in_product == 0


def test_unknown_material_is_never_compliant() -> None:
    ghost = FormulaLine(cas="50-00-0", name="Formaldehyde", tier=Tier.TOP, percent=1)
    report = check_compliance(_formula(ghost), load_catalogue())
    assert not report.compliant
    assert any("50-00-0" in note for note in report.notes)


def test_unverified_restrictions_are_flagged_in_notes() -> None:
    bergamot = FormulaLine(cas="8007-75-8", name="Bergamot oil", tier=Tier.TOP, percent=1)
    report = check_compliance(_formula(bergamot), load_catalogue())
    assert report.compliant
    assert any("Bergamot oil" in note for note in report.notes)


def test_cost_and_pyramid_of_a_hand_made_formula() -> None:
    formula = Formula(
        lines=[
            FormulaLine(cas="8008-57-9", name="Sweet orange oil", tier=Tier.TOP, percent=20),
            FormulaLine(cas="24851-98-7", name="Hedione", tier=Tier.HEART, percent=30),
            FormulaLine(cas="1222-05-5", name="Galaxolide", tier=Tier.BASE, percent=50),
        ],
        product=ProductType.EDT,
        dosage_percent=10,
    )
    # 0.2 x 10 + 0.3 x 18 + 0.5 x 12 = 13.4 EUR per kg of concentrate.
    assert cost_per_kg_eur(formula, load_catalogue()) == pytest.approx(13.4)
    assert formula.total_percent() == pytest.approx(100)
    assert formula.pyramid_shares() == {Tier.TOP: 20, Tier.HEART: 30, Tier.BASE: 50}
    assert formula.model_dump(mode="json")["lines"][0]["tier"] == "top"

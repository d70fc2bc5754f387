import pytest
from pydantic import TypeAdapter

from fragrance_ai.domain.catalogue import Tier
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.compliance import (
    ComplianceReport,
    Verdict,
    check_compliance,
    max_percent_in_concentrate,
)
from fragrance_ai.domain.formula import Formula, FormulaLine, cost_per_kg_eur
from fragrance_ai.domain.products import ProductType
from tests.domain.withheld import catalogue_withholding

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
    assert report.verdict is Verdict.CANNOT_CERTIFY
    assert report.unknown_materials == ["Formaldehyde (50-00-0)"]
    assert any("50-00-0" in reason for reason in report.reasons)


def test_isoeugenol_is_checked_against_the_annex_iii_figure_of_the_cosing_export() -> None:
    # Isoeugenol's EU maximum (0.02 %, Annex III entry 73) is now read from the Commission's
    # CosIng export (eu_register), no longer from Directive 2008/42 as uncertain. 0.05 % x 18 %.
    isoeugenol = FormulaLine(cas="97-54-1", name="Isoeugenol", tier=Tier.HEART, percent=0.05)
    report = check_compliance(_formula(isoeugenol), load_catalogue())
    assert report.compliant
    assert not any("uncertain" in note and "Isoeugenol" in note for note in report.notes)


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


def _line(name: str, percent: float) -> FormulaLine:
    material = load_catalogue().find(name)
    assert material is not None, name
    return FormulaLine(cas=material.cas, name=material.name, tier=material.tier, percent=percent)


def test_worked_example_oakmoss_in_an_edp_at_18_percent() -> None:
    """docs/compliance.md, worked example 1, by hand:
    level in product = 0.8 % of concentrate x 18 % dosage / 100 = 0.144 % > 0.1 % (Cat 4);
    concentrate cap  = 0.1 % / 18 % x 100 = 0.5556 % of the concentrate."""
    catalogue = load_catalogue()
    report = check_compliance(_formula(OAKMOSS), catalogue)
    [violation] = report.violations
    assert violation.level_percent_in_product == pytest.approx(0.8 * 18 / 100)
    assert violation.limit_percent_in_product == 0.1
    oakmoss = catalogue.find("oakmoss")
    assert oakmoss is not None
    cap = max_percent_in_concentrate(oakmoss, ProductType.EDP, 18, catalogue)
    assert cap == pytest.approx(0.1 / 18 * 100)
    assert round(cap, 4) == 0.5556
    # At the cap it passes; a hundredth of a percent above it fails.
    assert check_compliance(
        _formula(OAKMOSS.model_copy(update={"percent": cap})), catalogue
    ).compliant
    over = OAKMOSS.model_copy(update={"percent": round(cap, 2) + 0.01})
    assert not check_compliance(_formula(over), catalogue).compliant


def test_worked_example_bergamot_in_an_edp_at_18_percent() -> None:
    """docs/compliance.md, worked example 2: 5 % expressed bergamot oil in the concentrate.
    oil:       5 x 0.18            = 0.9 %     > 0.4 %    -> cap 0.4 / 18 x 100 = 2.22 %
    bergapten: 5 x 0.18 x 0.35 %   = 0.00315 % > 0.0015 % -> cap 2.38 %
    linalool:  5 x 0.18 x 10 %     = 0.09 %    > 0.001 %  -> named on the label."""
    report = check_compliance(_formula(_line("Bergamot oil", 5)), load_catalogue())
    levels = {v.cas: v.level_percent_in_product for v in report.violations}
    assert levels["8007-75-8"] == pytest.approx(0.9)
    assert levels["484-20-8"] == pytest.approx(0.00315)
    assert all(v.materials == ["Bergamot oil"] for v in report.violations)
    by_name = {line.substance: line for line in report.allergens}
    assert by_name["Linalool"].level_percent_in_product == pytest.approx(0.09)
    assert "Linalool" in report.allergens_to_declare
    assert report.allergen_label_threshold_percent == 0.001
    bergamot = load_catalogue().find("bergamot")
    assert bergamot is not None
    assert max_percent_in_concentrate(
        bergamot, ProductType.EDP, 18, load_catalogue()
    ) == pytest.approx(0.4 / 18 * 100)


def test_a_substance_is_summed_over_every_material_that_brings_it() -> None:
    # Citral: 3 % neat + lemon (2.5 %) + litsea (75 %) + bergamot (0.5 %), EDP at 18 %.
    lines = [
        _line("Citral", 3),
        _line("Lemon oil", 5),
        _line("Litsea cubeba oil", 1),
        _line("Bergamot oil", 1),
    ]
    report = check_compliance(_formula(*lines), load_catalogue())
    [citral] = [v for v in report.violations if v.substance == "Citral"]
    expected = 0.18 * (3 + 5 * 0.025 + 1 * 0.75 + 1 * 0.005)
    assert citral.level_percent_in_product == pytest.approx(expected)
    assert citral.limit_percent_in_product == 0.6
    assert set(citral.materials) == {"Citral", "Lemon oil", "Litsea cubeba oil", "Bergamot oil"}
    assert sum(c.level_percent_in_product for c in citral.contributions) == pytest.approx(expected)


def test_restricted_substance_without_a_figure_cannot_be_certified() -> None:
    report = check_compliance(_formula(_line("Geraniol", 2)), catalogue_withholding("geraniol"))
    assert not report.compliant
    assert report.verdict is Verdict.CANNOT_CERTIFY
    assert report.needs_review
    assert report.violations == []
    assert any("Geraniol" in reason for reason in report.reasons)
    [item] = report.review
    assert item.substance == "Geraniol"
    assert item.level_percent_in_product == pytest.approx(2 * 18 / 100)


def test_allergen_labelling_thresholds_by_product() -> None:
    # 0.01 % linalool in the concentrate: 0.0018 % in an EDP (> 0.001 %, declare) but
    # 0.0001 % in a body lotion at 1 % (not declared); candles are not cosmetics.
    linalool = _line("Linalool", 0.01)
    edp = check_compliance(_formula(linalool), load_catalogue())
    assert "Linalool" in edp.allergens_to_declare
    lotion = check_compliance(
        _formula(linalool, product=ProductType.BODY_LOTION, dosage=1), load_catalogue()
    )
    assert lotion.allergens_to_declare == []
    assert [line.substance for line in lotion.allergens] == ["Linalool"]
    candle = check_compliance(
        _formula(_line("Linalool", 10), product=ProductType.CANDLE, dosage=8), load_catalogue()
    )
    assert candle.allergen_label_threshold_percent is None
    assert candle.allergens_to_declare == []


def test_candle_category_12_limits() -> None:
    # Oakmoss: no restriction in Cat 12; methyl eugenol (from rose oil) has 0.066 % (51st).
    catalogue = load_catalogue()
    moss = OAKMOSS.model_copy(update={"percent": 20.0})
    assert check_compliance(
        _formula(moss, product=ProductType.CANDLE, dosage=8), catalogue
    ).compliant
    rose = _line("Rose oil", 70)
    report = check_compliance(_formula(rose, product=ProductType.CANDLE, dosage=8), catalogue)
    [violation] = [v for v in report.violations if v.substance == "Methyl eugenol"]
    assert violation.level_percent_in_product == pytest.approx(70 * 0.08 * 0.02)
    assert violation.limit_percent_in_product == 0.066


def test_whole_oils_listed_by_2023_1545_are_declared_themselves() -> None:
    # Patchouli oil is an allergen entry of its own since Regulation (EU) 2023/1545: 1 % in
    # an EDP at 18 % is 0.18 % of the product, over the 0.001 % leave-on threshold.
    report = check_compliance(_formula(_line("Patchouli oil", 1)), load_catalogue())
    assert "Pogostemon cablin (patchouli) oil" in report.allergens_to_declare


def test_the_report_serialises_to_the_api_json_objects_in_field_order() -> None:
    # The report is a plain dataclass; pydantic writes it for the API and the database.
    report = check_compliance(_formula(OAKMOSS), load_catalogue())
    document = TypeAdapter(ComplianceReport).dump_python(report, mode="json")
    assert list(document) == [
        "verdict",
        "reasons",
        "compliant",
        "needs_review",
        "ifra_category",
        "product",
        "dosage_percent",
        "violations",
        "review",
        "phototoxic_sum",
        "unknown_materials",
        "allergen_label_threshold_percent",
        "allergens",
        "checked_substances",
        "notes",
        "as_of",
        "rule_set",
        "upcoming_violations",
        "conditions",
    ]
    assert document["verdict"] == "not_compliant"
    assert document["product"] == "EDP"
    [violation] = document["violations"]
    assert violation["contributions"] == [
        {"material": "Oakmoss absolute", "level_percent_in_product": 0.144}
    ]
    assert list(document["allergens"][0]) == [
        "substance",
        "inci",
        "cas",
        "level_percent_in_product",
        "declare",
        "added_2023",
        "entry_uncertain",
        "materials",
    ]

"""Every IFRA Standard of IFRA's 51st Amendment overview reaches the engine (issue 24)."""

from __future__ import annotations

import csv

import pytest

from fragrance_ai.domain.catalogue import IfraStandardType, Tier
from fragrance_ai.domain.catalogue_file import load_catalogue, load_ifra_overview
from fragrance_ai.domain.compliance import Verdict, check_compliance
from fragrance_ai.domain.formula import Formula, FormulaLine
from fragrance_ai.domain.ifra_register import (
    LEVEL_UNKNOWN_SUFFIX,
    LinkOutcome,
    ifra_accounting,
    parse_ifra_overview,
)
from fragrance_ai.domain.own_material import own_material
from fragrance_ai.domain.products import IFRA_CATEGORIES, ProductType

ROWS = parse_ifra_overview(load_ifra_overview())


def _rows_in_file() -> int:
    lines = [line for line in load_ifra_overview().splitlines() if not line.startswith("#")]
    return sum(1 for _ in csv.reader(lines)) - 1


def test_every_standard_of_the_overview_is_read() -> None:
    assert len(ROWS) == _rows_in_file() == 263
    assert len({row.key for row in ROWS}) == len(ROWS)


def test_every_standard_is_linked_or_listed_with_a_reason() -> None:
    catalogue = load_catalogue()
    links = ifra_accounting(catalogue.substances.values(), ROWS)
    by_key = {row.key: row for row in ROWS}
    assert len(links) == len(ROWS)
    for link in links:
        if link.outcome is LinkOutcome.NOT_APPLICABLE:
            assert link.reason, link.key
        else:
            assert link.substance_ids, link.key
            for substance_id in link.substance_ids:
                substance = catalogue.substances[substance_id]
                assert link.key in substance.ifra_key.split(", ")
                if substance.ifra_key.split(", ")[0] == link.key:
                    row = by_key[link.key]
                    assert substance.ifra_new_creations_from == row.new_creations_from
                    assert substance.ifra_existing_creations_from == row.existing_creations_from


def _cell_agrees(cell: str, limit: object) -> bool:
    from fragrance_ai.domain.catalogue import IfraLimit

    assert isinstance(limit, IfraLimit)
    word = cell.strip().lower()
    if word == "no restriction":
        return limit.unrestricted
    if word.startswith("see note"):
        # The overview points to the Standard's text: no figure of its own to compare.
        return True
    if not word or "prohibited" in word:
        return limit.prohibited
    value = float(word.split(" ")[0].replace(",", "."))
    return limit.max_percent_in_finished_product == pytest.approx(value, rel=1e-9)


def test_the_existing_transcriptions_agree_with_the_overview_cell_by_cell() -> None:
    catalogue = load_catalogue()
    by_key = {row.key: row for row in ROWS}
    checked = 0
    for substance in catalogue.substances.values():
        keys = [k for k in substance.ifra_key.split(", ") if k]
        if (
            substance.id.startswith("ifra_std_")
            or substance.id.endswith(LEVEL_UNKNOWN_SUFFIX)
            or len(substance.limits) != 18
        ):
            continue
        # A combined table (MHC with MOC) is the first Standard's.
        for key in keys[:1]:
            row = by_key[key]
            if not row.cells[0] and row.substance_type is IfraStandardType.SPECIFICATION:
                continue
            for category, cell in zip(IFRA_CATEGORIES, row.cells, strict=True):
                limit = substance.limit_for(category)
                assert limit is not None, (key, category)
                assert _cell_agrees(cell, limit), (key, category)
                checked += 1
    # 76 tables of 18 cells (MHC with MOC is compared with its first Standard only).
    assert checked == 76 * 18


def _own(cas: str, percent: float, product: ProductType) -> Verdict:
    catalogue = load_catalogue()
    material, reason = own_material(
        name="Own base",
        cas="0000-00-0",
        tier=Tier.HEART,
        composition=[(cas, percent)],
        catalogue=catalogue,
    )
    assert reason == ""
    line = FormulaLine(name="Own base", cas="0000-00-0", tier=Tier.HEART, percent=100)
    formula = Formula(product=product, lines=[line], dosage_percent=18)
    return check_compliance(formula, catalogue, own_materials={"0000-00-0": material}).verdict


@pytest.mark.parametrize(
    "cas",
    [
        "92-48-8",  # 6-methylcoumarin, IFRA_STD_160: prohibited
        "8024-12-2",  # verbena oil, IFRA_STD_083: the oil is prohibited
    ],
)
def test_a_declared_prohibited_standard_is_not_compliant(cas: str) -> None:
    assert _own(cas, 0.001, ProductType.EDP) is Verdict.NOT_COMPLIANT


@pytest.mark.parametrize(
    ("cas", "category_4_limit"),
    [
        ("93-29-8", 0.99),  # isoeugenyl acetate, IFRA_STD_255
        ("17369-59-4", 0.40),  # 3-propylidenephthalide, IFRA_STD_076
        ("85116-63-8", 0.69),  # verbena absolute, IFRA_STD_083
    ],
)
def test_a_declared_restricted_standard_gets_its_limit(cas: str, category_4_limit: float) -> None:
    # EDP: category 4 at 18 % concentrate; the own base is 100 % of the concentrate, so a
    # constituent at p % of it is p x 0.18 % of the product.
    [substance] = [s for s in load_catalogue().substances.values() if cas in s.cas]
    limit = substance.limit_for("4")
    assert limit is not None
    assert limit.max_percent_in_finished_product == category_4_limit
    dosage = 0.18
    assert _own(cas, category_4_limit / dosage * 1.25, ProductType.EDP) is Verdict.NOT_COMPLIANT
    if not substance.eu_limits:  # an EU maximum may bind below IFRA's
        assert _own(cas, category_4_limit / dosage * 0.75, ProductType.EDP) is Verdict.COMPLIANT


def test_cedarwood_virginia_in_a_deodorant_is_limited_by_cedrene() -> None:
    catalogue = load_catalogue()
    cedarwood = catalogue.find("Cedarwood oil Virginia")
    assert cedarwood is not None
    formula = Formula(
        product=ProductType.DEODORANT,
        lines=[FormulaLine(name=cedarwood.name, cas=cedarwood.cas, tier=Tier.BASE, percent=50)],
        dosage_percent=1,
    )
    report = check_compliance(formula, catalogue)
    assert report.verdict is Verdict.NOT_COMPLIANT
    [violation] = [v for v in report.violations if v.substance == "Cedrene"]
    assert violation.limit_percent_in_product == 0.08
    assert "IFRA" in violation.rule


def test_a_natural_with_a_constituent_of_unknown_level_cannot_be_certified() -> None:
    catalogue = load_catalogue()
    bay = catalogue.find("Bay oil")
    assert bay is not None
    line = FormulaLine(name=bay.name, cas=bay.cas, tier=Tier.HEART, percent=0.01)
    formula = Formula(product=ProductType.EDP, lines=[line], dosage_percent=18)
    report = check_compliance(formula, catalogue)
    assert report.verdict is Verdict.CANNOT_CERTIFY
    assert any("Estragole" in item.substance for item in report.review)


def test_specification_notes_become_conditions() -> None:
    catalogue = load_catalogue()
    oakmoss = catalogue.substances["oakmoss_treemoss_extracts"]
    assert any("Dehydroabietic" in c or "Treemoss" in c for c in oakmoss.conditions)
    assert any("peroxide" in c for c in catalogue.substances["turpentine"].conditions)

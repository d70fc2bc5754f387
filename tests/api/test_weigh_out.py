"""GET /v1/formulas/{id}/weigh-out: the sheet a perfumer takes to the balance; and how GET
/v1/formulas/{id} shows each line (odour, per mille, working dilution)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from fragrance_ai.db.repositories import save_designed_formula
from fragrance_ai.domain.catalogue import Tier
from fragrance_ai.domain.compliance import check_compliance
from fragrance_ai.domain.designer import DesignedFormula
from fragrance_ai.domain.formula import Formula, FormulaLine, cost_per_kg_eur
from fragrance_ai.domain.products import ProductType
from fragrance_ai.runtime import Runtime

# Stored out of weighing order on purpose: tops first, the base scattered.
LINES = [
    FormulaLine(cas="8007-75-8", name="Bergamot oil", tier=Tier.TOP, percent=12.5),
    FormulaLine(cas="6790-58-5", name="Ambroxan", tier=Tier.BASE, percent=2.5),
    FormulaLine(cas="24851-98-7", name="Hedione", tier=Tier.HEART, percent=40),
    FormulaLine(cas="78-70-6", name="Linalool", tier=Tier.TOP, percent=7.5),
    FormulaLine(cas="54464-57-2", name="Iso E Super", tier=Tier.BASE, percent=30),
    FormulaLine(cas="121-33-5", name="Vanillin", tier=Tier.BASE, percent=7.5),
]


def _store(runtime: Runtime, product: ProductType, dosage_percent: float) -> str:
    formula = Formula(lines=LINES, product=product, dosage_percent=dosage_percent)
    catalogue = runtime.catalogue
    designed = DesignedFormula(
        formula=formula,
        compliance=check_compliance(formula, catalogue),
        cost_per_kg_eur=cost_per_kg_eur(formula, catalogue),
        rationale=[],
    )
    with runtime.sessions() as session:
        row = save_designed_formula(
            session, designed, designer="by hand", brief_id=None, job_id=None
        )
        session.commit()
        return str(row.id)


@pytest.fixture
def edp_id(runtime: Runtime) -> str:
    return _store(runtime, ProductType.EDP, 18)


def test_the_sheet_weighs_base_then_heart_then_top_and_the_alcohol_last(
    client: TestClient, edp_id: str
) -> None:
    response = client.get(f"/v1/formulas/{edp_id}/weigh-out", params={"batch_g": 100})
    assert response.status_code == 200
    sheet = response.json()
    assert set(sheet) == {
        "formula_id",
        "batch_g",
        "dilution_percent",
        "concentrate_g",
        "solvent",
        "lines",
        "total_g",
        "order",
        "diluents",
        "notes",
    }
    assert sheet["formula_id"] == edp_id
    assert sheet["dilution_percent"] == 18
    assert sheet["concentrate_g"] == 18
    # Vanillin and Ambroxan are weighed as their 10 % dilutions in alcohol: ten times the
    # material, its neat grams beside it.
    assert [
        (line["step"], line["weighed_as"], line["grams"], line["neat_grams"])
        for line in sheet["lines"]
    ] == [
        (1, "Iso E Super", 5.4, 5.4),
        (2, "Vanillin 10 % in ethanol", 13.5, 1.35),
        (3, "Ambroxan 10 % in ethanol", 4.5, 0.45),
        (4, "Hedione", 7.2, 7.2),
        (5, "Bergamot oil", 2.25, 2.25),
        (6, "Linalool", 1.35, 1.35),
    ]
    assert [line["running_total_g"] for line in sheet["lines"]] == [
        5.4,
        18.9,
        23.4,
        30.6,
        32.85,
        34.2,
    ]
    first = sheet["lines"][0]
    assert set(first) == {
        "step",
        "name",
        "cas",
        "tier",
        "percent_of_concentrate",
        "grams",
        "running_total_g",
        "neat_grams",
        "working_dilution_percent",
        "diluent",
        "weighed_as",
    }
    assert (first["cas"], first["tier"], first["percent_of_concentrate"]) == (
        "54464-57-2",
        "base",
        30,
    )
    vanillin = sheet["lines"][1]
    assert (vanillin["working_dilution_percent"], vanillin["diluent"]) == (
        10,
        "ethanol (perfumer's alcohol)",
    )
    assert (first["working_dilution_percent"], first["diluent"]) == (100, None)
    # The neat materials make the 18 g of concentrate; the dilutions' 16.2 g of alcohol is
    # part of the batch's 82 g of alcohol, so 65.8 g is added last and the batch is exact.
    assert round(sum(line["neat_grams"] for line in sheet["lines"]) * 1000) == 18_000
    assert sheet["diluents"] == [{"name": "ethanol (perfumer's alcohol)", "grams": 16.2}]
    assert sheet["solvent"] == {
        "name": "perfumer's alcohol (ethanol 96 %, denatured)",
        "grams": 65.8,
    }
    weighed_mg = sum(round(line["grams"] * 1000) for line in sheet["lines"])
    assert weighed_mg + round(sheet["solvent"]["grams"] * 1000) == 100_000
    assert sheet["total_g"] == 100
    assert sheet["notes"] == []
    assert sheet["order"].startswith("Base materials first")


def test_a_chosen_dilution_and_the_neat_concentrate(client: TestClient, edp_id: str) -> None:
    diluted = client.get(
        f"/v1/formulas/{edp_id}/weigh-out", params={"batch_g": 50, "dilution_percent": 10}
    ).json()
    assert diluted["concentrate_g"] == 5
    # Vanillin 0.375 g and Ambroxan 0.125 g as 10 % dilutions bring 4.5 g of the 45 g.
    assert diluted["diluents"][0]["grams"] == 4.5
    assert diluted["solvent"]["grams"] == 40.5
    neat = client.get(
        f"/v1/formulas/{edp_id}/weigh-out", params={"batch_g": 7, "dilution_percent": 100}
    ).json()
    assert neat["concentrate_g"] == 7
    assert neat["solvent"]["grams"] == 0
    # No solvent to hold the dilutions: everything is weighed neat, and the sheet says so.
    assert round(sum(line["grams"] for line in neat["lines"]) * 1000) == 7000
    assert neat["diluents"] == []
    assert "Vanillin, Ambroxan" in neat["notes"][0]


def test_a_product_outside_fine_fragrance_is_made_up_with_its_bases_carrier_and_dpg(
    client: TestClient, runtime: Runtime
) -> None:
    lotion_id = _store(runtime, ProductType.BODY_LOTION, 1)
    sheet = client.get(f"/v1/formulas/{lotion_id}/weigh-out", params={"batch_g": 1000}).json()
    assert sheet["concentrate_g"] == 10
    assert sheet["lines"][1]["weighed_as"] == "Vanillin 10 % in DPG"
    assert sheet["diluents"] == [{"name": "dipropylene glycol (DPG)", "grams": 9.0}]
    assert sheet["solvent"] == {"name": "the lotion or cream base (the emulsion)", "grams": 981.0}
    candle_id = _store(runtime, ProductType.CANDLE, 8)
    candle = client.get(f"/v1/formulas/{candle_id}/weigh-out", params={"batch_g": 500}).json()
    assert candle["solvent"]["name"] == "candle wax (paraffin or soy)"


def test_the_sheet_prints_as_html_with_a_box_to_tick_per_step(
    client: TestClient, edp_id: str
) -> None:
    response = client.get(
        f"/v1/formulas/{edp_id}/weigh-out",
        params={"batch_g": 100, "dilution_percent": 15, "format": "html"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Weigh-out sheet" in page
    assert page.index("Iso E Super") < page.index("Hedione") < page.index("Linalool")
    # Six materials and the alcohol, each with its own box.
    assert page.count("type='checkbox'") == 7
    assert "perfumer&#x27;s alcohol (ethanol 96 %, denatured)" in page
    assert "15.000 g of concentrate" in page
    # Vanillin (7.5 % of 15 g: 1.125 g) is weighed as 11.25 g of its dilution.
    assert (
        "<td>Vanillin 10 % in ethanol</td><td class='cas'>121-33-5</td><td>base</td>"
        "<td class='number'>7.5</td><td class='number'>11.250</td>"
        "<td class='number'>1.125</td>"
    ) in page
    assert "13.500 g of ethanol (perfumer&#x27;s alcohol) comes in with the stock" in page
    assert "<td>Total</td><td></td><td></td><td></td><td class='number'>100.000</td>" in page
    # Weighed at another dilution than the one it was checked at: the sheet says so.
    assert "designed and checked at 18 % concentrate" in page
    assert "Weighed by" in page
    assert "@media print" in page


def test_an_unknown_formula_is_404(client: TestClient) -> None:
    response = client.get(f"/v1/formulas/{uuid.UUID(int=0)}/weigh-out")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"batch_g": 0}, "batch_g"),
        ({"batch_g": -5}, "batch_g"),
        ({"batch_g": 100_001}, "batch_g"),
        ({"dilution_percent": 0}, "dilution_percent"),
        ({"dilution_percent": 101}, "dilution_percent"),
        ({"format": "pdf"}, "format"),
    ],
)
def test_a_value_out_of_bounds_is_422_naming_its_parameter(
    client: TestClient, edp_id: str, params: dict[str, float | str], name: str
) -> None:
    response = client.get(f"/v1/formulas/{edp_id}/weigh-out", params=params)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", name]


def test_an_empty_dilution_means_the_formulas_own_dosage(client: TestClient, edp_id: str) -> None:
    # What a plain HTML form sends when the field is left empty.
    response = client.get(f"/v1/formulas/{edp_id}/weigh-out?batch_g=10&dilution_percent=")
    assert response.status_code == 200
    assert response.json()["dilution_percent"] == 18
    assert response.json()["concentrate_g"] == 1.8


def test_a_formula_line_shows_its_odour_per_mille_and_working_dilution(
    client: TestClient, edp_id: str
) -> None:
    lines = {line["name"]: line for line in client.get(f"/v1/formulas/{edp_id}").json()["lines"]}
    vanillin = lines["Vanillin"]
    assert vanillin["descriptors"] == ["vanilla", "sweet", "creamy"]
    assert vanillin["percent"] == 7.5
    assert vanillin["per_mille"] == 75
    # "Vanillin 10 % in ethanol: 75.00 % (= 7.50 % neat)".
    assert vanillin["working_dilution_percent"] == 10
    assert vanillin["diluent"] == "ethanol"
    assert vanillin["weighed_as"] == "Vanillin 10 % in ethanol"
    assert vanillin["percent_as_weighed"] == 75
    hedione = lines["Hedione"]
    assert (hedione["working_dilution_percent"], hedione["diluent"]) == (100, None)
    assert (hedione["weighed_as"], hedione["percent_as_weighed"]) == ("Hedione", 40)
    for line in lines.values():
        assert line["per_mille"] == pytest.approx(10 * line["percent"])
        assert line["descriptors"]


def test_a_checked_lines_powerful_material_shows_its_dpg_dilution_and_neat_equivalent(
    client: TestClient,
) -> None:
    body = {
        "product": "shampoo",
        "lines": [
            {"name": "Hedione", "percent": 99.8},
            {"name": "Isobutyl quinoline", "percent": 0.2},
        ],
    }
    response = client.post("/v1/formulas/check", json=body)
    assert response.status_code == 200
    quinoline = response.json()["lines"][1]
    # Weighed at 1 % in DPG: 20 % of the concentrate as weighed holds 0.2 % neat.
    assert quinoline["weighed_as"] == "Isobutyl quinoline 1 % in DPG"
    assert quinoline["percent_as_weighed"] == 20
    assert quinoline["percent"] == 0.2
    assert quinoline["per_mille"] == 2
    assert "leather" in quinoline["descriptors"]

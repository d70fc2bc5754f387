"""`POST /v1/formulas/check` and `GET /v1/ingredients/{cas}`: a perfumer's own formula in,
compliance, labelling, cost and pyramid out; bad input is a 422 naming the field."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import CHYPRE


def check(client: TestClient, **body: Any) -> Any:
    response = client.post("/v1/formulas/check", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_edp_with_oakmoss_and_bergamot_is_reported_with_levels_and_limits(
    client: TestClient,
) -> None:
    report = check(client, lines=CHYPRE, product="EDP")
    assert report["dosage_percent"] == 18
    assert report["ifra_category"] == "4"
    compliance = report["compliance"]
    assert compliance["compliant"] is False
    violations = {v["cas"]: v for v in compliance["violations"]}
    # 2 % oakmoss x 18 % = 0.36 % > 0.1 %; 12 % bergamot x 18 % = 2.16 % > 0.4 %.
    assert violations["90028-68-5"]["level_percent_in_product"] == pytest.approx(0.36)
    assert violations["90028-68-5"]["limit_percent_in_product"] == 0.1
    assert violations["90028-68-5"]["materials"] == ["Oakmoss absolute"]
    assert violations["8007-75-8"]["level_percent_in_product"] == pytest.approx(2.16)
    assert violations["8007-75-8"]["limit_uncertain"] is False
    assert violations["8007-75-8"]["rule"].startswith("IFRA 51st Amendment")
    assert "Linalool" in report["allergens_to_declare"]
    assert "Evernia prunastri (oakmoss) extract" in report["allergens_to_declare"]
    assert report["pyramid"] == {"top": 25, "heart": 35, "base": 40}
    assert report["cost_per_kg_eur"] > 0
    assert report["repair"] is None
    assert [line["name"] for line in report["lines"]][:3] == [
        "Bergamot oil",
        "Lemon oil",
        "Linalool",
    ]


def test_repair_returns_a_compliant_formula_with_the_same_pyramid(client: TestClient) -> None:
    report = check(client, lines=CHYPRE, product="EDP", repair=True)
    repair = report["repair"]
    assert repair["feasible"] is True
    assert repair["compliance"]["compliant"] is True
    assert repair["pyramid"] == pytest.approx(report["pyramid"])
    assert sum(line["percent"] for line in repair["lines"]) == pytest.approx(100)
    after = {line["name"]: line["percent"] for line in repair["lines"]}
    assert after["Oakmoss absolute"] == pytest.approx(0.1 / 18 * 100)
    # Bergamot is held under its own cap, and lower still where expressed lemon oil shares
    # the phototoxic additive rule with it.
    assert after["Bergamot oil"] <= 0.4 / 18 * 100 + 1e-9
    assert repair["compliance"]["phototoxic_sum"] <= 1 + 1e-9
    assert {change["name"] for change in repair["changes"]} >= {"Oakmoss absolute", "Bergamot oil"}
    # The repaired formula checks clean when posted back.
    again = check(
        client,
        lines=[{"cas": line["cas"], "percent": line["percent"]} for line in repair["lines"]],
        product="EDP",
    )
    assert again["compliance"]["compliant"] is True


def test_infeasible_repair_says_why(client: TestClient) -> None:
    lines = [
        {"name": "Bergamot oil", "percent": 30},
        {"name": "Hedione", "percent": 30},
        {"name": "Galaxolide", "percent": 40},
    ]
    repair = check(client, lines=lines, product="EDP", repair=True)["repair"]
    assert repair["feasible"] is False
    assert repair["lines"] is None
    assert repair["compliance"]["compliant"] is False
    assert any("No formula of these materials" in reason for reason in repair["reasons"])


def test_dosage_and_product_change_the_verdict(client: TestClient) -> None:
    # 0.5 % oakmoss: EDT at 10 % -> 0.05 % (passes); parfum at 25 % -> 0.125 % (fails).
    lines = [{"name": "Oakmoss absolute", "percent": 0.5}, {"name": "Hedione", "percent": 99.5}]
    assert check(client, lines=lines, product="EDT")["compliance"]["compliant"] is True
    parfum = check(client, lines=lines, product="parfum")
    assert parfum["compliance"]["compliant"] is False
    explicit = check(client, lines=lines, product="EDP", dosage_percent=15)
    assert explicit["dosage_percent"] == 15
    assert explicit["compliance"]["compliant"] is True
    candle = check(client, lines=lines, product="candle")
    assert candle["compliance"]["ifra_category"] == "12"
    assert candle["allergens_to_declare"] == []


@pytest.mark.parametrize(
    ("lines", "location"),
    [
        (
            [{"name": "Hedione", "percent": 90}, {"cas": "8007-75-9", "percent": 10}],
            ["body", "lines", 1, "cas"],
        ),
        (
            [{"name": "Galaxolide", "cas": "8007-75-8", "percent": 100}],
            ["body", "lines", 0, "name"],
        ),
        (
            [{"name": "Hedione", "percent": 50}, {"cas": "24851-98-7", "percent": 50}],
            ["body", "lines", 1, "cas"],
        ),
    ],
)
def test_wrong_lines_are_named_in_a_422(
    client: TestClient, lines: list[dict[str, Any]], location: list[Any]
) -> None:
    response = client.post("/v1/formulas/check", json={"lines": lines, "product": "EDP"})
    assert response.status_code == 422
    assert location in [error["loc"] for error in response.json()["detail"]]


def test_unknown_materials_make_the_verdict_cannot_certify_and_the_rest_is_checked(
    client: TestClient,
) -> None:
    lines = [
        {"name": "Meteorite", "percent": 40},
        {"name": "Oakmoss absolute", "percent": 20},
        # Water: on no list, and no composition given (formaldehyde, 50-00-0, which this
        # test used, is now known as Annex II entry 1577's prohibition).
        {"cas": "7732-18-5", "percent": 40},
    ]
    compliance = check(client, lines=lines, product="EDP")["compliance"]
    # Oakmoss is still checked: 20 % x 18 % is over its Category 4 limit.
    assert compliance["verdict"] == "not_compliant"
    assert compliance["unknown_materials"] == [
        "Meteorite (own:1)",
        "Material 7732-18-5 (7732-18-5)",
    ]
    below = [{"name": "Meteorite", "percent": 60}, {"name": "Hedione", "percent": 40}]
    compliance = check(client, lines=below, product="EDP")["compliance"]
    assert compliance["verdict"] == "cannot_certify"
    assert compliance["compliant"] is False
    assert any("Meteorite" in reason for reason in compliance["reasons"])


def test_a_perfumers_own_material_is_checked_on_its_declared_composition(
    client: TestClient,
) -> None:
    # "My citronella base": 50 % citronellal (IFRA Cat 4: 0.49 %). At 10 % in an EDT at
    # 10 %: 0.5 % citronellal, over. At 5 %: 0.25 %, within.
    def own(percent: float, composition: object) -> dict[str, Any]:
        return {
            "name": "My citronella base",
            "percent": percent,
            "tier": "top",
            "composition": composition,
        }

    citronellal = [{"cas": "106-23-0", "percent": 50}]
    over = [own(10, citronellal), {"name": "Hedione", "percent": 90}]
    report = check(client, lines=over, product="EDT")["compliance"]
    assert report["verdict"] == "not_compliant"
    [violation] = report["violations"]
    assert violation["substance"] == "Citronellal"
    assert violation["materials"] == ["My citronella base"]
    within = [own(5, citronellal), {"name": "Hedione", "percent": 95}]
    assert check(client, lines=within, product="EDT")["compliance"]["verdict"] == "compliant"
    clean = [own(5, "none_known"), {"name": "Hedione", "percent": 95}]
    assert check(client, lines=clean, product="EDT")["compliance"]["verdict"] == "compliant"
    # A constituent whose CAS the data does not know leaves the line uncertifiable (not
    # formaldehyde, 50-00-0, any more: Annex II bans it, so the EU register knows it).
    unknown = [own(5, [{"cas": "7732-18-5", "percent": 5}]), {"name": "Hedione", "percent": 95}]
    report = check(client, lines=unknown, product="EDT")["compliance"]
    assert report["verdict"] == "cannot_certify"
    assert any("7732-18-5" in reason for reason in report["reasons"])


@pytest.mark.parametrize(
    ("body", "location"),
    [
        (
            {
                "lines": [{"name": "Hedione", "percent": 100}],
                "product": "EDP",
                "dosage_percent": 80,
            },
            ["body", "dosage_percent"],
        ),
        (
            {
                "lines": [
                    {
                        "name": "Own",
                        "percent": 100,
                        "composition": [{"cas": "106-23-1", "percent": 5}],
                    }
                ],
                "product": "EDP",
            },
            ["body", "lines", 0, "composition"],
        ),
        (
            {
                "lines": [
                    {
                        "name": "Own",
                        "percent": 100,
                        "composition": [
                            {"cas": "106-23-0", "percent": 60},
                            {"cas": "78-70-6", "percent": 60},
                        ],
                    }
                ],
                "product": "EDP",
            },
            ["body", "lines", 0, "composition"],
        ),
    ],
)
def test_absurd_dosages_and_bad_compositions_are_422(
    client: TestClient, body: dict[str, Any], location: list[Any]
) -> None:
    response = client.post("/v1/formulas/check", json=body)
    assert response.status_code == 422
    assert location == response.json()["detail"][0]["loc"][: len(location)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": [{"name": "Hedione", "percent": 99}], "product": "EDP"}, "lines"),
        ({"lines": [{"name": "Hedione", "percent": 100.02}], "product": "EDP"}, "percent"),
        ({"lines": [], "product": "EDP"}, "lines"),
        ({"lines": [{"percent": 100}], "product": "EDP"}, 0),
        ({"lines": [{"name": "Hedione", "percent": 100}], "product": "toothpaste"}, "product"),
        ({"lines": [{"name": "Hedione", "percent": 100}]}, "product"),
        ({"lines": [{"name": "Hedione", "percent": -5}], "product": "EDP"}, "percent"),
        (
            {"lines": [{"name": "Hedione", "percent": 100}], "product": "EDP", "dosage_percent": 0},
            "dosage_percent",
        ),
        ({"lines": [{"name": "Hedione", "percent": 100}], "product": "EDP", "x": 1}, "x"),
    ],
)
def test_malformed_bodies_are_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str | int
) -> None:
    response = client.post("/v1/formulas/check", json=body)
    assert response.status_code == 422, response.text
    locations = [error["loc"] for error in response.json()["detail"]]
    assert any(field in location for location in locations), locations


def test_percentages_within_a_hundredth_of_100_are_accepted(client: TestClient) -> None:
    lines = [{"name": "Hedione", "percent": 60.005}, {"name": "Galaxolide", "percent": 40}]
    assert check(client, lines=lines, product="EDT")["compliance"]["compliant"] is True


def test_one_ingredient_by_cas(client: TestClient) -> None:
    response = client.get("/v1/ingredients/8007-75-8")
    assert response.status_code == 200
    bergamot = response.json()
    assert bergamot["name"] == "Bergamot oil"
    assert bergamot["volatility"] == "very_high"
    constituents = {c["substance"]: c for c in bergamot["constituents"]}
    assert constituents["Bergapten (5-methoxypsoralen), marker of furocoumarins"]["percent"] == 0.35
    assert "Linalool" in bergamot["eu_allergens"]
    assert {limit["category"] for limit in bergamot["ifra"]} >= {"4", "5A"}
    assert all(limit["source"] for limit in bergamot["ifra"])


def test_unknown_cas_is_404_and_malformed_cas_422(client: TestClient) -> None:
    missing = client.get("/v1/ingredients/50-00-0")
    assert missing.status_code == 404
    assert "50-00-0" in missing.json()["detail"]
    for malformed in ("8007-75-9", "not-a-cas", "8007758"):
        response = client.get(f"/v1/ingredients/{malformed}")
        assert response.status_code == 422, malformed
        assert response.json()["detail"][0]["loc"] == ["path", "cas"]


def test_ingredients_filter_by_text_tier_and_family(client: TestClient) -> None:
    found = client.get("/v1/ingredients", params={"q": "oakmoss"}).json()
    # Oakmoss absolute itself, and Evernyl, sold as an oakmoss substitute.
    assert {item["name"] for item in found} == {"Oakmoss absolute", "Evernyl"}
    woods = client.get("/v1/ingredients", params={"tier": "base", "family": "woody"}).json()
    assert len(woods) >= 10
    assert all(item["tier"] == "base" and "woody" in item["families"] for item in woods)


def test_verdicts_are_counted_in_the_metrics(client: TestClient) -> None:
    def count(verdict: str) -> float:
        text = client.get("/metrics").text
        prefix = f'fragrance_compliance_verdicts_total{{source="check",verdict="{verdict}"}} '
        found = [line for line in text.splitlines() if line.startswith(prefix)]
        return float(found[0].split()[-1]) if found else 0.0

    before = count("cannot_certify")
    # A material the catalogue lacks, declared with no composition, cannot be certified.
    lines = [{"name": "House base 7", "percent": 2}, {"name": "Hedione", "percent": 98}]
    check(client, lines=lines, product="EDP")
    assert count("cannot_certify") == before + 1


def test_a_material_shows_every_rule_of_its_substances(client: TestClient) -> None:
    isoeugenol = client.get("/v1/ingredients/97-54-1").json()
    [substance] = isoeugenol["regulated_substances"]
    assert substance["ifra_standard"] == "restriction"
    # Its IFRA table, every category with its figure, amendment and source.
    limits = {limit["category"]: limit for limit in substance["ifra_limits"]}
    assert len(limits) == 18
    assert limits["4"]["max_percent_in_finished_product"] == 0.11
    assert "51st Amendment" in limits["4"]["amendment"]
    assert "IFRA Standards overview" in limits["4"]["source"]
    assert not substance["ifra_no_figure_found"]
    assert [rule["max_percent_in_finished_product"] for rule in substance["eu_rules"]] == [0.02]
    lilial = client.get("/v1/ingredients/80-54-6").json()
    assert lilial["regulated_substances"][0]["cmr"]["classification"] == "Repr. 1B"
    bergamot = client.get("/v1/ingredients/8007-75-8").json()
    by_id = {s["id"]: s for s in bergamot["regulated_substances"]}
    assert by_id["bergamot_oil_expressed"]["phototoxic"] is True
    assert len(by_id["bergamot_oil_expressed"]["ifra_limits"]) == 18


def test_a_regulated_substance_outside_the_catalogue_is_checked_as_itself(
    client: TestClient,
) -> None:
    # Estragole (140-67-0) is a regulated substance but no catalogue material: a line of it
    # is assessed as the substance itself (IFRA Cat 4 0.42 %): 5 % x 18 % = 0.9 %, over.
    lines = [{"cas": "140-67-0", "percent": 5}, {"name": "Hedione", "percent": 95}]
    report = check(client, lines=lines, product="EDP")["compliance"]
    assert report["verdict"] == "not_compliant"
    assert [v["substance"] for v in report["violations"]] == ["Estragole"]


@pytest.mark.parametrize("as_of", ["next tuesday", "2026-02-30", "2019-12-31", 20270101])
def test_an_as_of_that_is_not_a_date_from_2020_on_is_a_422_naming_it(
    client: TestClient, as_of: object
) -> None:
    lines = [{"name": "Hedione", "percent": 100}]
    body = {"lines": lines, "product": "EDP", "as_of": as_of}
    response = client.post("/v1/formulas/check", json=body)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "as_of"]]


def test_the_report_says_the_date_its_rules_were_read_for(client: TestClient) -> None:
    lines = [{"name": "Hedione", "percent": 100}]
    dated = check(client, lines=lines, product="EDP", as_of="2027-03-01")["compliance"]
    assert dated["as_of"] == "2027-03-01"
    assert "2027-03-01" in dated["rule_set"]
    today = check(client, lines=lines, product="EDP")["compliance"]
    assert today["as_of"] == date.today().isoformat()


def test_a_cas_shared_by_two_grades_is_a_422_naming_the_line_and_the_candidates(
    client: TestClient,
) -> None:
    lines = [{"name": "Hedione", "percent": 98}, {"cas": "8008-26-2", "percent": 2}]
    response = client.post("/v1/formulas/check", json={"lines": lines, "product": "EDP"})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["type"] == "ambiguous_material"
    assert error["loc"] == ["body", "lines", 1, "cas"]
    assert "Lime oil expressed" in error["msg"]
    assert "Lime oil distilled" in error["msg"]
    named = [{"name": "Hedione", "percent": 98}, {"name": "Lime oil", "percent": 2}]
    response = client.post("/v1/formulas/check", json={"lines": named, "product": "EDP"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "lines", 1, "name"]


def test_a_rule_adopted_to_bind_within_a_year_is_reported_as_upcoming(client: TestClient) -> None:
    # Benzyl salicylate at 4.5 % of an EDP: within IFRA's 7.3 %, over the 4 % that Regulation
    # (EU) 2026/909 sets for products placed on the market from 2027-01-01.
    lines = [{"name": "Benzyl salicylate", "percent": 25}, {"name": "Hedione", "percent": 75}]
    before = check(client, lines=lines, product="EDP", as_of="2026-12-07")["compliance"]
    assert before["verdict"] == "compliant"
    assert before["reasons"] == []
    [upcoming] = before["upcoming_violations"]
    assert upcoming["substance"] == "Benzyl salicylate"
    assert upcoming["rule"].startswith("2027-01-01")
    assert any("2027-01-01" in note for note in before["notes"])
    after = check(client, lines=lines, product="EDP", as_of="2027-01-01")["compliance"]
    assert after["verdict"] == "not_compliant"

"""The IFRA certificate and the allergen declaration, for stored and for checked formulas."""

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import wait_for_job

# Oakmoss 0.8 % (IFRA Cat 4 0.1 %, 5A 0.076 %, no restriction in 12) and Citral 2 % (Cat 4
# 0.6 %, 5A 0.15 %) in a concentrate of otherwise unregulated Hedione.
OAKMOSS_AND_CITRAL = [
    {"name": "Oakmoss absolute", "percent": 0.8},
    {"name": "Citral", "percent": 2},
    {"name": "Hedione", "percent": 97.2},
]


def _body(**extra: Any) -> dict[str, Any]:
    return {"lines": OAKMOSS_AND_CITRAL, "product": "EDP", "title": "Chypre test 7", **extra}


def test_the_certificate_gives_each_categorys_maximum_and_what_limits_it(
    client: TestClient,
) -> None:
    response = client.post("/v1/formulas/check/ifra-certificate", json=_body())
    assert response.status_code == 200
    certificate = response.json()
    by_category = {item["category"]: item for item in certificate["categories"]}
    assert len(by_category) == 18
    # Cat 4: oakmoss allows 0.1 / 0.8 x 100 = 12.5 %, citral 0.6 / 2 x 100 = 30 %.
    assert by_category["4"]["max_percent_of_concentrate"] == pytest.approx(12.5)
    assert by_category["4"]["limited_by"].startswith("Oakmoss")
    # Cat 5A: oakmoss 0.076 / 0.8 = 9.5 %, citral 0.15 / 2 = 7.5 %: citral limits.
    assert by_category["5A"]["max_percent_of_concentrate"] == pytest.approx(7.5)
    assert by_category["5A"]["limited_by"] == "Citral"
    assert (
        by_category["5A"]["amendment"] == "51st Amendment (Standard of the 49th, unchanged since)"
    )
    # Cat 9: oakmoss 0.1 / 0.8 = 12.5 %, citral 1.2 / 2 = 60 %.
    assert by_category["9"]["max_percent_of_concentrate"] == pytest.approx(12.5)
    # Cat 12 (candles): neither is restricted there.
    assert by_category["12"]["max_percent_of_concentrate"] == 100
    assert by_category["12"]["limited_by"] == "no restricted substance"
    assert certificate["issued_on"]
    assert certificate["amendments_applied"] == [
        "51st Amendment (Standard of the 49th, unchanged since)"
    ]


def test_a_material_that_cannot_be_assessed_leaves_every_category_uncertified(
    client: TestClient,
) -> None:
    lines = [*OAKMOSS_AND_CITRAL[:2], {"name": "House base 7", "percent": 97.2}]
    response = client.post("/v1/formulas/check/ifra-certificate", json=_body(lines=lines))
    assert response.status_code == 200
    for item in response.json()["categories"]:
        assert item["max_percent_of_concentrate"] is None
        assert "House base 7" in item["cannot_certify"]


def test_the_certificate_prints_as_html(client: TestClient) -> None:
    response = client.post(
        "/v1/formulas/check/ifra-certificate", params={"format": "html"}, json=_body()
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "IFRA Certificate of Conformity" in page
    assert f"Standards as binding on {date.today().isoformat()}" in page
    assert "Chypre test 7" in page
    assert "12.5 %" in page
    unknown = [*OAKMOSS_AND_CITRAL[:2], {"name": "House base 7", "percent": 97.2}]
    uncertified = client.post(
        "/v1/formulas/check/ifra-certificate",
        params={"format": "html"},
        json=_body(lines=unknown),
    ).text
    assert "cannot certify" in uncertified


def test_the_allergen_declaration_of_a_checked_formula(client: TestClient) -> None:
    response = client.post("/v1/formulas/check/allergen-declaration", json=_body())
    assert response.status_code == 200
    declaration = response.json()
    lines = {line["inci"]: line for line in declaration["lines"]}
    citral = lines["Citral"]
    assert citral["percent_in_concentrate"] == pytest.approx(2)
    assert citral["percent_in_product"] == pytest.approx(2 * 18 / 100)
    assert citral["declare"] is True
    assert lines["Evernia Prunastri Extract"]["declare"] is True
    assert declaration["threshold_percent"] == 0.001
    assert "CITRAL" in declaration["label_text"]
    candle = client.post(
        "/v1/formulas/check/allergen-declaration", json=_body(product="candle")
    ).json()
    assert candle["threshold_percent"] is None
    assert candle["label_text"] == ""
    html = client.post(
        "/v1/formulas/check/allergen-declaration", params={"format": "html"}, json=_body()
    )
    assert "Evernia Prunastri Extract" in html.text


def test_documents_of_a_stored_formula(client: TestClient) -> None:
    accepted = client.post(
        "/v1/briefs", json={"text": "fresh citrus cologne for summer with a woody base"}
    ).json()
    job = wait_for_job(client, str(accepted["job_id"]))
    formula_id = job["result"]["formula_ids"][0]
    certificate = client.get(f"/v1/formulas/{formula_id}/ifra-certificate")
    assert certificate.status_code == 200
    categories = certificate.json()["categories"]
    # A designed formula is compliant in its own category (EDC: 4) at its dosage (4 %).
    [fine] = [item for item in categories if item["category"] == "4"]
    assert fine["max_percent_of_concentrate"] is not None
    assert fine["max_percent_of_concentrate"] >= 4
    declaration = client.get(f"/v1/formulas/{formula_id}/allergen-declaration")
    assert declaration.status_code == 200
    assert declaration.json()["product"] == "EDC"
    html = client.get(f"/v1/formulas/{formula_id}/ifra-certificate", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html")
    missing = client.get("/v1/formulas/00000000-0000-0000-0000-000000000000/ifra-certificate")
    assert missing.status_code == 404
    bad_format = client.get(f"/v1/formulas/{formula_id}/ifra-certificate", params={"format": "pdf"})
    assert bad_format.status_code == 422


def test_the_declaration_names_each_annex_entry_with_its_2023_dates(client: TestClient) -> None:
    # Rose absolute, bergamot FCF and distilled lemon are Annex III entries themselves (366,
    # 352, 353, added by Regulation (EU) 2023/1545), not only carriers of their constituents.
    lines = [
        {"name": "Rose absolute", "percent": 1},
        {"name": "Bergamot oil FCF", "percent": 10},
        {"name": "Lemon oil distilled", "percent": 8},
        {"name": "Hedione", "percent": 81},
    ]
    response = client.post(
        "/v1/formulas/check/allergen-declaration",
        json={"lines": lines, "product": "body_lotion", "dosage_percent": 0.5},
    )
    assert response.status_code == 200
    declaration = response.json()
    by_inci = {line["inci"]: line for line in declaration["lines"]}
    for inci in (
        "Rose Flower Oil/Extract",
        "Citrus Aurantium Bergamia Peel Oil",
        "Citrus Limon Peel Oil",
    ):
        assert by_inci[inci]["declare"] is True
        assert by_inci[inci]["labelled_on_new_products_from"] == "2026-07-31"
        assert by_inci[inci]["labelled_on_all_products_from"] == "2028-07-31"
        assert inci.upper() in declaration["label_text"]
    assert by_inci["Linalool"]["labelled_on_new_products_from"] is None


def test_the_printed_declaration_shows_when_a_2023_1545_entry_must_be_labelled(
    client: TestClient,
) -> None:
    lines = [{"name": "Patchouli oil", "percent": 2}, {"name": "Hedione", "percent": 98}]
    html = client.post(
        "/v1/formulas/check/allergen-declaration",
        params={"format": "html"},
        json={"lines": lines, "product": "EDP"},
    ).text
    assert "2023/1545: new products from 2026-07-31, all from 2028-07-31" in html

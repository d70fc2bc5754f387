"""The HTTP API on the embedded default: SQLite and the in-process queue, real job functions."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fragrance_ai.api.app import create_app
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.db.models import Brief, Job
from fragrance_ai.runtime import build_runtime, install_runtime
from tests.conftest import make_settings
from tests.helpers import free_port, wait_for_job

CITRUS_BRIEF = "fresh citrus cologne for summer with a woody base"


def submit(client: TestClient, text: str, **extra: object) -> dict[str, object]:
    response = client.post("/v1/briefs", json={"text": text, **extra})
    assert response.status_code == 202, response.text
    body: dict[str, object] = response.json()
    assert response.headers["Location"] == f"/v1/jobs/{body['job_id']}"
    return body


def test_a_citrus_brief_becomes_a_compliant_costed_formula(client: TestClient) -> None:
    accepted = submit(client, CITRUS_BRIEF)
    job = wait_for_job(client, str(accepted["job_id"]))
    assert job["status"] == "finished", job
    assert job["progress"] == 1.0
    # Timestamps carry their zone on SQLite as on PostgreSQL.
    assert job["created_at"].endswith(("Z", "+00:00"))
    assert job["finished_at"] >= job["started_at"] >= job["created_at"]
    assert job["result"]["brief_id"] == accepted["brief_id"]
    assert job["result"]["brief_understood"] is True

    formula = client.get(f"/v1/formulas/{job['result']['formula_ids'][0]}").json()
    assert abs(sum(line["percent"] for line in formula["lines"]) - 100) <= 0.01
    top_names = " ".join(line["name"].lower() for line in formula["lines"] if line["tier"] == "top")
    citrus_words = ("bergamot", "lemon", "orange", "grapefruit", "mandarin", "lime", "citral")
    assert any(word in top_names for word in citrus_words), top_names
    assert formula["compliant"] is True
    assert formula["compliance"]["compliant"] is True
    assert formula["cost_per_kg_eur"] > 0
    assert formula["product"] == "EDC"
    assert set(formula["pyramid"]) == {"top", "heart", "base"}
    assert all(line["cas"] for line in formula["lines"])


def test_the_brief_keeps_its_text_and_parsed_form(client: TestClient) -> None:
    accepted = submit(client, "a warm amber EDP for winter, no patchouli", mode="fast")
    job = wait_for_job(client, str(accepted["job_id"]))
    # The fast mode's search: 15 generations, reported in the job row as it went.
    assert job["stage"] == "design_formulas: generation 15/15"
    search = job["result"]["search"]
    assert search["mode"] == "fast"
    assert [g["generation"] for g in search["generations"]] == list(range(16))
    # The structure the options are built on, and what was kept out and why (an amber brief
    # asks for no minty note).
    assert search["structure"].startswith("Amber")
    assert any("Menthol (minty" in entry for entry in search["left_out"])
    assert len(job["result"]["options"]) == len(job["result"]["formula_ids"])
    brief = client.get(f"/v1/briefs/{accepted['brief_id']}").json()
    assert brief["text"] == "a warm amber EDP for winter, no patchouli"
    assert brief["mode"] == "fast"
    assert "winter" in brief["parsed"]["seasons"]
    assert "patchouli" in " ".join(brief["parsed"]["avoid"]).lower()
    # Every option of the search, each with its scores, and no patchouli in any.
    assert len(brief["formula_ids"]) == 4
    assert [option["formula_id"] for option in brief["options"]] == brief["formula_ids"]
    for option in brief["options"]:
        assert option["designer"] == "nsga2"
        assert option["compliant"] is True
        assert 0 < option["scores"]["brief_fit"] <= 1
        formula = client.get(f"/v1/formulas/{option['formula_id']}").json()
        assert not any("patchouli" in line["name"].lower() for line in formula["lines"])
        assert formula["search"]["mode"] == "fast"


def _option_lines(client: TestClient, brief_id: object) -> list[list[tuple[str, float]]]:
    brief = client.get(f"/v1/briefs/{brief_id}").json()
    return [
        [
            (line["cas"], line["percent"])
            for line in client.get(f"/v1/formulas/{formula_id}").json()["lines"]
        ]
        for formula_id in brief["formula_ids"]
    ]


def test_a_brief_with_a_seed_designs_the_same_options_again(client: TestClient) -> None:
    designed = []
    for seed in (7, 7, 8):
        accepted = submit(client, CITRUS_BRIEF, mode="fast", seed=seed)
        job = wait_for_job(client, str(accepted["job_id"]))
        assert job["status"] == "finished", job
        assert client.get(f"/v1/briefs/{accepted['brief_id']}").json()["seed"] == seed
        formula = client.get(f"/v1/formulas/{job['result']['formula_ids'][0]}").json()
        assert formula["search"]["seed"] == seed
        designed.append(_option_lines(client, accepted["brief_id"]))
    # Two jobs, one seed: the same search. Without a seed each job's id seeds it.
    assert designed[0] == designed[1]
    assert designed[0] != designed[2]


def test_an_explicit_product_wins_over_the_text(client: TestClient) -> None:
    accepted = submit(client, CITRUS_BRIEF, product="EDP")
    job = wait_for_job(client, str(accepted["job_id"]))
    formula = client.get(f"/v1/formulas/{job['result']['formula_ids'][0]}").json()
    assert formula["product"] == "EDP"


@pytest.mark.parametrize("text", ["qwzx blorp vvv", "aaaaa ???? 12345", "내일 날씨는 맑겠습니다"])
def test_a_text_that_is_no_brief_finishes_with_no_formula_and_says_what_it_needs(
    client: TestClient, text: str
) -> None:
    accepted = submit(client, text)
    job = wait_for_job(client, str(accepted["job_id"]))
    assert job["status"] == "finished"
    assert job["result"]["brief_understood"] is False
    assert job["result"]["formula_ids"] == []
    assert "families" in job["result"]["needs"]
    brief = client.get(f"/v1/briefs/{accepted['brief_id']}").json()
    assert brief["options"] == []
    assert brief["reading"]["models"].startswith("skipped")


def test_notes_the_catalogue_lacks_are_reported_in_the_job_result(client: TestClient) -> None:
    accepted = submit(client, "a green fig leaf and yuzu cologne with sea salt and bergamot")
    job = wait_for_job(client, str(accepted["job_id"]))
    assert job["status"] == "finished"
    # fig leaf is Stemone now (issue 25); yuzu and sea salt have no material.
    assert job["result"]["unmatched_notes"] == ["yuzu", "sea salt"]
    assert job["result"]["formula_ids"]


def test_the_korean_brief_is_understood(client: TestClient) -> None:
    accepted = submit(client, "상큼한 시트러스와 가벼운 머스크, 여름에 어울리는 데일리 향수")
    job = wait_for_job(client, str(accepted["job_id"]))
    assert job["status"] == "finished"
    parsed = client.get(f"/v1/briefs/{accepted['brief_id']}").json()["parsed"]
    assert parsed["language"] == "ko"
    assert parsed["families"] == ["citrus", "musky"]
    assert parsed["seasons"] == ["summer"]
    assert job["result"]["formula_ids"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "   \n "}, "text"),
        ({"text": "x" * 10_000}, "text"),
        ({"text": "citrus", "mode": "turbo"}, "mode"),
        ({"text": "citrus", "product": "shampoo-bar"}, "product"),
        ({"text": "citrus", "colour": "blue"}, "colour"),
        ({}, "text"),
        ({"text": 42}, "text"),
        ({"text": "citrus", "seed": -1}, "seed"),
        ({"text": "citrus", "seed": 2**53}, "seed"),
        ({"text": "citrus", "seed": True}, "seed"),
    ],
)
def test_bad_briefs_get_a_422_naming_the_field(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    response = client.post("/v1/briefs", json=body)
    assert response.status_code == 422
    locations = [error["loc"] for error in response.json()["detail"]]
    assert any(location[-1] == field for location in locations), locations


def test_malformed_json_is_a_422_not_a_500(client: TestClient) -> None:
    response = client.post(
        "/v1/briefs", content=b'{"text": "citrus",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize("resource", ["jobs", "briefs", "formulas"])
def test_unknown_ids_are_404_and_malformed_ids_422(client: TestClient, resource: str) -> None:
    missing = client.get(f"/v1/{resource}/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert "00000000-0000-4000-8000-000000000000" in missing.json()["detail"]
    malformed = client.get(f"/v1/{resource}/not-a-uuid")
    assert malformed.status_code == 422


def test_formulas_are_paginated_newest_first(client: TestClient) -> None:
    jobs = [submit(client, text)["job_id"] for text in (CITRUS_BRIEF, "rose", "vanilla")]
    finished = [wait_for_job(client, str(job_id)) for job_id in jobs]
    # The embedded queue may run two briefs at once: the newest formulas are those of the
    # job that finished last, whatever the order they were submitted in.
    last = max(finished, key=lambda job: str(job["finished_at"]))
    newest = set(last["result"]["formula_ids"])
    total = sum(len(job["result"]["formula_ids"]) for job in finished)
    assert total == 12  # four options a brief
    first_page = client.get("/v1/formulas", params={"limit": 2}).json()
    assert first_page["total"] == total
    assert len(first_page["items"]) == 2
    assert first_page["items"][0]["id"] in newest
    rest = client.get("/v1/formulas", params={"limit": 100, "offset": 2}).json()
    assert len(rest["items"]) == total - 2
    ids = {item["id"] for item in first_page["items"] + rest["items"]}
    assert len(ids) == total
    assert client.get("/v1/formulas", params={"limit": 0}).status_code == 422
    assert client.get("/v1/formulas", params={"limit": 101}).status_code == 422


def test_ingredients_can_be_filtered(client: TestClient) -> None:
    everything = client.get("/v1/ingredients").json()
    top = client.get("/v1/ingredients", params={"tier": "top"}).json()
    assert 0 < len(top) < len(everything)
    assert all(item["tier"] == "top" for item in top)
    citrus = client.get("/v1/ingredients", params={"family": "citrus"}).json()
    assert citrus
    assert all("citrus" in item["families"] for item in citrus)
    assert client.get("/v1/ingredients", params={"tier": "middle"}).status_code == 422


def test_the_summary_view_of_ingredients_lists_the_same_materials_without_their_data(
    client: TestClient,
) -> None:
    full = client.get("/v1/ingredients", params={"q": "woody"})
    summary = client.get("/v1/ingredients", params={"q": "woody", "view": "summary"})
    assert [item["cas"] for item in summary.json()] == [item["cas"] for item in full.json()]
    assert set(summary.json()[0]) == {
        "name",
        "synonyms",
        "cas",
        "tier",
        "families",
        "descriptors",
        "price_per_kg_eur",
        "natural",
    }
    assert len(summary.content) * 10 < len(full.content)
    assert client.get("/v1/ingredients", params={"view": "all"}).status_code == 422


def test_health_touches_nothing_and_ready_checks_everything(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "queue": "ok"}


def test_ready_is_503_and_names_pending_migrations(tmp_path: Path) -> None:
    runtime = build_runtime(make_settings(tmp_path))
    try:
        with TestClient(create_app(runtime)) as client:
            response = client.get("/ready")
            assert client.get("/health").status_code == 200
    finally:
        runtime.close()
        install_runtime(None)
    assert response.status_code == 503
    assert response.json()["failing"] == ["migrations"]


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    accepted = submit(client, CITRUS_BRIEF)
    wait_for_job(client, str(accepted["job_id"]))
    client.get("/v1/jobs/00000000-0000-4000-8000-000000000000")
    text = client.get("/metrics").text
    assert 'route="/v1/jobs/{job_id}"' in text
    assert 'status="404"' in text
    assert 'fragrance_http_request_duration_seconds_bucket{le="0.001",method="POST"' in text
    assert 'fragrance_queue_depth{queue="llm_inference"}' in text
    assert (
        'fragrance_job_duration_seconds_count{kind="design_from_brief",status="finished"}' in text
    )
    assert "00000000-0000-4000-8000-000000000000" not in text


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/v1/briefs" in schema["paths"]
    # The release's version, as pyproject.toml sets it (and the package was installed with).
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert schema["info"]["version"] == project["project"]["version"]


def test_with_redis_down_ready_names_the_queue_and_a_brief_is_kept_with_a_503(
    tmp_path: Path,
) -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    runtime = build_runtime(make_settings(tmp_path, redis_url=unreachable))
    upgrade_to_head(runtime.engine)
    try:
        with TestClient(create_app(runtime)) as client:
            ready = client.get("/ready")
            submitted = client.post("/v1/briefs", json={"text": CITRUS_BRIEF})
    finally:
        runtime.close()
        install_runtime(None)
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["queue"]
    assert submitted.status_code == 503
    assert "was saved" in submitted.json()["detail"]
    with runtime.sessions() as session:
        brief = session.scalars(select(Brief)).one()
        job = session.scalars(select(Job)).one()
    assert brief.text == CITRUS_BRIEF
    assert job.status == "failed"
    assert job.error is not None
    assert job.error.startswith("could not enqueue: redis:")

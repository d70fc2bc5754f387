"""A brief corrected on the workbench: designed from as the perfumer edited it, never read
again, refused with a 422 naming the entry when a word means nothing to the designer, and
kept in the brief's history with the rounds that followed."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fragrance_ai.db.models import Brief
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.runtime import Runtime
from tests.helpers import wait_for_job

CITRUS_BRIEF = "fresh citrus cologne for summer with a woody base"


def designed(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    accepted = client.post("/v1/briefs", json=body)
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(client, accepted.json()["job_id"])
    assert job["status"] == "finished", job
    return job


def test_a_corrected_brief_is_designed_as_edited_without_reading_the_text(
    client: TestClient,
) -> None:
    first = designed(client, {"text": CITRUS_BRIEF, "mode": "fast"})
    original = client.get(f"/v1/briefs/{first['result']['brief_id']}").json()
    assert "citrus" in original["parsed"]["families"]

    # The perfumer reads "citrus" as a misreading: woody with vetiver, no citrus at all.
    job = designed(
        client,
        {
            "text": CITRUS_BRIEF,
            "mode": "fast",
            "product": "EDP",
            "revises": original["id"],
            "corrected": {
                "families": ["Woody"],
                "notes": ["vetiver", "fig leaf"],
                "seasons": ["autumn"],
                "avoid": ["citrus"],
            },
        },
    )
    brief = client.get(f"/v1/briefs/{job['result']['brief_id']}").json()
    assert brief["parser"] == "perfumer"
    assert brief["revises"] == original["id"]
    parsed = brief["parsed"]
    assert parsed["families"] == ["woody"]
    assert parsed["notes"] == ["Vetiver oil"]
    assert parsed["unmatched_notes"] == ["fig leaf"]
    assert parsed["avoid"] == ["citrus"]
    assert parsed["product"] == "EDP"
    assert job["result"]["unmatched_notes"] == ["fig leaf"]

    catalogue = load_catalogue()
    for formula_id in job["result"]["formula_ids"]:
        formula = client.get(f"/v1/formulas/{formula_id}").json()
        assert formula["product"] == "EDP"
        names = {line["name"] for line in formula["lines"]}
        assert "Vetiver oil" in names
        for line in formula["lines"]:
            ingredient = catalogue.find(line["cas"])
            assert ingredient is not None
            assert "citrus" not in ingredient.families, line


def test_a_correction_naming_what_the_designer_does_not_know_is_a_422_and_stores_nothing(
    client: TestClient, runtime: Runtime
) -> None:
    response = client.post(
        "/v1/briefs",
        json={
            "text": CITRUS_BRIEF,
            "corrected": {"families": ["woody", "wodoy"], "moods": ["grumpy"], "avoid": []},
        },
    )
    assert response.status_code == 422, response.text
    problems = {tuple(item["loc"]): item["msg"] for item in response.json()["detail"]}
    assert set(problems) == {
        ("body", "corrected", "families", 1),
        ("body", "corrected", "moods", 0),
    }
    assert "'wodoy'" in problems[("body", "corrected", "families", 1)]
    assert "romantic" in problems[("body", "corrected", "moods", 0)]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Brief)) == 0


def test_a_material_both_asked_for_and_avoided_is_refused(client: TestClient) -> None:
    response = client.post(
        "/v1/briefs",
        json={"text": CITRUS_BRIEF, "corrected": {"notes": ["vetiver"], "avoid": ["Vetiver oil"]}},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "corrected", "avoid", 0]


def test_blank_words_and_unknown_revised_briefs_are_refused(client: TestClient) -> None:
    blank = client.post("/v1/briefs", json={"text": "x", "corrected": {"families": ["  "]}})
    assert blank.status_code == 422
    assert blank.json()["detail"][0]["loc"] == ["body", "corrected", "families", 0]
    unknown = client.post(
        "/v1/briefs",
        json={"text": CITRUS_BRIEF, "revises": "00000000-0000-4000-8000-000000000000"},
    )
    assert unknown.status_code == 404


def test_the_vocabulary_lists_what_a_correction_may_name(client: TestClient) -> None:
    vocabulary = client.get("/v1/briefs/vocabulary").json()
    assert "woody" in vocabulary["families"]
    assert "summer" in vocabulary["seasons"]
    assert "romantic" in vocabulary["moods"]
    assert vocabulary["intensities"] == ["light", "moderate", "strong"]


def test_the_brief_keeps_its_rounds_and_the_choices_made(client: TestClient) -> None:
    job = designed(client, {"text": CITRUS_BRIEF, "mode": "fast"})
    brief_id = job["result"]["brief_id"]
    options = job["result"]["formula_ids"]
    chosen = options[-1]
    assert (
        client.post("/v1/feedback", json={"brief_id": brief_id, "chosen_id": chosen}).status_code
        == 201
    )
    answer = client.post(f"/v1/formulas/{chosen}/variations", json={"n": 2, "seed": 7}).json()

    brief = client.get(f"/v1/briefs/{brief_id}").json()
    first, second = brief["rounds"]
    assert first["kind"] == "options"
    assert first["formula_ids"] == options
    assert first["chosen_id"] == chosen
    assert second["kind"] == "variations"
    assert second["variation_set_id"] == answer["variation_set_id"]
    assert second["parent_id"] == chosen
    assert second["formula_ids"] == [v["formula_id"] for v in answer["variations"]]
    assert second["chosen_id"] is None
    # Variations are among the brief's formulas, marked with their parent.
    parents = {option["formula_id"]: option["parent_id"] for option in brief["options"]}
    assert all(parents[v["formula_id"]] == chosen for v in answer["variations"])


def test_a_dosage_given_on_submitting_wins_over_the_products_usual_one(
    client: TestClient,
) -> None:
    job = designed(
        client, {"text": CITRUS_BRIEF, "mode": "fast", "product": "EDP", "dosage_percent": 12.5}
    )
    brief = client.get(f"/v1/briefs/{job['result']['brief_id']}").json()
    assert brief["requested_dosage_percent"] == 12.5
    assert brief["parsed"]["dosage_percent"] == 12.5
    assert "dosage_percent" not in brief["parsed"]["defaults_used"]
    formula = client.get(f"/v1/formulas/{job['result']['formula_ids'][0]}").json()
    assert formula["dosage_percent"] == 12.5

"""Job results are typed: OpenAPI tells a client what GET /v1/jobs/{id} returns for each
kind of job, and a result stored by an earlier release reads back byte for byte."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from fragrance_ai.db.models import Job, JobKind, JobStatus
from fragrance_ai.runtime import Runtime
from tests.helpers import wait_for_job

# As 0.2.0's design_formulas stored it (one option, one generation), and a run's metrics.
STORED_BRIEF_RESULT: dict[str, Any] = {
    "brief_id": "5b0f3a52-8a58-4d0e-9f38-0d8c5f3b6e11",
    "formula_ids": ["0c7f5c5e-2d57-5e0b-a0a5-1f0f2c3d4e5f"],
    "options": [
        {
            "formula_id": "0c7f5c5e-2d57-5e0b-a0a5-1f0f2c3d4e5f",
            "produced_by": "nsga2",
            "scores": {"brief_fit": 0.81, "cost": 0.4},
            "generation": 12,
        }
    ],
    "search": {
        "mode": "fast",
        "seed": 7,
        "population": 32,
        "objectives": ["brief_fit", "cost"],
        "evaluations": 512,
        "generations": [
            {
                "generation": 1,
                "evaluations": 32,
                "feasible": 30,
                "hypervolume": 0.25,
                "best": {"brief_fit": 0.7},
                "mean": {"brief_fit": 0.5},
            }
        ],
        "unmet": [],
    },
    "brief_understood": True,
    "defaults_used": ["product"],
    "unmatched_notes": [],
    "hints": [],
    "parser": "ensemble:fast",
    "reading": None,
}
STORED_NOT_UNDERSTOOD: dict[str, Any] = {
    "brief_id": "5b0f3a52-8a58-4d0e-9f38-0d8c5f3b6e12",
    "brief_understood": False,
    "formula_ids": [],
    "needs": "Say what it should smell like",
    "reading": {"path": "deterministic"},
}
STORED_TRAINING_RESULT: dict[str, Any] = {
    "training_run_id": "7d1d3a52-8a58-4d0e-9f38-0d8c5f3b6e13",
    "updates": 4,
    "rollbacks": 1,
    "decision": "activated version 2",
    "activated_policy_id": "8e2d3a52-8a58-4d0e-9f38-0d8c5f3b6e14",
    "best_policy_id": "update-3",
    "base_evaluation": {"mean_reward": 0.1, "episodes": 8},
    "best_evaluation": None,
    "reward_model": {"version": 1, "heldout_accuracy": 0.7},
    "starts": {"training": 10, "held_out": 4},
    "a_metric_added_later": 3.5,
}


def _stored_job(runtime: Runtime, kind: JobKind, result: dict[str, Any]) -> uuid.UUID:
    job_id = uuid.uuid4()
    with runtime.sessions() as session:
        session.add(
            Job(
                id=job_id,
                kind=kind.value,
                status=JobStatus.FINISHED.value,
                progress=1.0,
                result=result,
                created_at=datetime.now(UTC),
            )
        )
        session.commit()
    return job_id


def test_openapi_names_the_result_of_each_kind_of_job(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    result = schemas["JobView"]["properties"]["result"]
    referenced = {option.get("$ref", "").rsplit("/", 1)[-1] for option in result["anyOf"]}
    assert {"BriefJobResult", "TrainingJobResult"} <= referenced
    brief = schemas["BriefJobResult"]
    assert {"brief_id", "brief_understood", "formula_ids"} <= set(brief["required"])
    assert brief["properties"]["options"]["anyOf"][0]["items"]["$ref"].endswith("/DesignedOption")
    assert schemas["JobView"]["properties"]["kind"]["$ref"].endswith("/JobKind")


def test_results_stored_by_an_earlier_release_read_back_unchanged(
    client: TestClient, runtime: Runtime
) -> None:
    for kind, stored in (
        (JobKind.DESIGN_FROM_BRIEF, STORED_BRIEF_RESULT),
        (JobKind.DESIGN_FROM_BRIEF, STORED_NOT_UNDERSTOOD),
        (JobKind.TRAIN_POLICY, STORED_TRAINING_RESULT),
    ):
        job_id = _stored_job(runtime, kind, stored)
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        assert response.json()["result"] == stored
        assert response.json()["kind"] == kind.value


def test_a_finished_brief_job_stores_what_its_model_declares(client: TestClient) -> None:
    accepted = client.post("/v1/briefs", json={"text": "fresh citrus cologne", "seed": 3})
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(client, accepted.json()["job_id"])
    assert job["status"] == "finished", job
    result = job["result"]
    assert result["formula_ids"] == [option["formula_id"] for option in result["options"]]
    assert result["search"]["seed"] == 3
    assert "needs" not in result  # unset fields are not stored or answered


def test_a_downshifted_reading_leaves_the_design_searching_as_asked(
    client: TestClient, runtime: Runtime
) -> None:
    """Issue 26: a slow or failing model downshifts the reading only. The balanced models
    fail three times, so a balanced brief is read in fast mode; the design still searches
    with balanced's population, generations and objectives, and the result says so."""
    from fragrance_ai.settings import InferenceMode

    for _ in range(3):
        runtime.brief_ensemble.governor.record(InferenceMode.BALANCED, 1.0, ok=False)
    accepted = client.post(
        "/v1/briefs",
        json={"text": "fresh citrus cologne for summer", "mode": "balanced", "seed": 7},
    ).json()
    job = wait_for_job(client, str(accepted["job_id"]))
    assert job["status"] == "finished", job
    result = job["result"]
    assert result["reading"]["downshifted_from"] == "balanced"
    assert result["reading"]["mode"] == "fast"
    balanced = runtime.settings.optimizer.modes[InferenceMode.BALANCED]
    fast = runtime.settings.optimizer.modes[InferenceMode.FAST]
    assert (balanced.population, balanced.generations) != (fast.population, fast.generations)
    search = result["search"]
    assert search["mode"] == "balanced"
    assert search["population"] == balanced.population
    # Generation 0 (the first population) and then each of the generations asked for.
    assert search["generations"][-1]["generation"] == balanced.generations
    assert search["objectives"] == balanced.objectives
    [note] = [n for n in result["reading_notes"] if "instead of balanced" in n]
    assert "searched in balanced mode" in note
    assert client.get(f"/v1/briefs/{accepted['brief_id']}").json()["mode"] == "balanced"


def test_reading_notes_say_plainly_which_model_role_fell_back_and_why() -> None:
    from fragrance_ai.jobs.results import reading_notes

    reading = {
        "mode": "balanced",
        "roles": {
            "parser": {"outcome": "ok", "seconds": 0.4},
            "creative_hints": {"outcome": "fallback", "fallback": "timeout", "detail": "20 s"},
        },
    }
    assert reading_notes(reading, design_mode="balanced") == [
        "The creative hints model did not contribute (timeout: 20 s); the deterministic "
        "reading stands in its place."
    ]
    assert reading_notes(None, design_mode="fast") == []


def test_reading_notes_say_which_readers_read_after_the_design_or_were_skipped() -> None:
    from fragrance_ai.jobs.results import reading_notes

    reading = {
        "mode": "creative",
        "paraphrases": {"outcome": "after_design", "why": "still loading"},
        "roles": {
            "parser": {"outcome": "after_design", "why": "no field of its own is earned"},
            "creative_hints": {"outcome": "skipped", "why": "still loading"},
        },
    }
    assert reading_notes(reading, design_mode="creative") == [
        "The creative hints model did not read this brief (still loading).",
        "Designed without waiting for the paraphrase matcher (still loading), the parser "
        "model (no field of its own is earned): their reading is shown with the brief as "
        "suggestions, to accept or leave.",
    ]

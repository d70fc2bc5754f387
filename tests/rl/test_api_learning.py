"""Learning from choices through the HTTP API: variations, feedback, training runs, policies.
The embedded default (SQLite, in-process queue), and PostgreSQL for the one-choice race."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import func, select

import fragrance_ai.api.routes.feedback as feedback_route
import fragrance_ai.training.choices as choices_use_case
from fragrance_ai.api.app import create_app
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.db.models import (
    Choice,
    Formula,
    FormulaLine,
    Job,
    Policy,
    Preference,
    RewardModel,
    TrainingRun,
)
from fragrance_ai.db.training import save_choice
from fragrance_ai.rl.actions import action_names
from fragrance_ai.rl.features import state_feature_names
from fragrance_ai.rl.materials import material_table
from fragrance_ai.rl.weights_file import encode, write_atomically
from fragrance_ai.runtime import Runtime, build_runtime, install_runtime
from fragrance_ai.settings import RLSettings
from tests.conftest import make_settings
from tests.helpers import free_port, wait_for_job

CITRUS_BRIEF = "fresh citrus cologne for summer with a woody base"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def designed(client: TestClient, text: str = CITRUS_BRIEF) -> tuple[str, list[str]]:
    """A brief designed to the end: its id and its option formulas."""
    accepted = client.post("/v1/briefs", json={"text": text, "mode": "fast"})
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(client, accepted.json()["job_id"])
    assert job["status"] == "finished", job
    return job["result"]["brief_id"], job["result"]["formula_ids"]


def propose(client: TestClient, formula_id: str, **body: object) -> dict[str, Any]:
    response = client.post(f"/v1/formulas/{formula_id}/variations", json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    assert response.headers["Location"] == f"/v1/variation-sets/{answer['variation_set_id']}"
    return answer


def lines_of(formula: dict[str, Any]) -> set[tuple[str, float]]:
    return {(line["cas"], line["percent"]) for line in formula["lines"]}


def preferences_counted() -> float:
    return REGISTRY.get_sample_value("fragrance_rl_preferences_stored_total") or 0.0


def test_variations_are_distinct_compliant_children_stored_with_their_action(
    client: TestClient,
) -> None:
    brief_id, (parent_id, *_) = designed(client)
    parent = client.get(f"/v1/formulas/{parent_id}").json()
    answer = propose(client, parent_id, n=3)

    assert answer["parent_id"] == parent_id
    assert answer["parent_offered"] is True
    assert answer["policy"] is None
    assert answer["reward_model"] is None
    assert answer["warnings"] == []
    variations = answer["variations"]
    assert len(variations) == 3
    assert len({v["action"]["action"] for v in variations}) == 3
    seen = {frozenset(lines_of(parent))}
    for variation in variations:
        assert variation["compliant"] is True
        assert variation["verdict"] == "compliant"
        stored = client.get(f"/v1/formulas/{variation['formula_id']}").json()
        assert stored["parent_id"] == parent_id
        assert stored["brief_id"] == brief_id
        assert stored["designer"] == "policy:initial"
        assert stored["compliant"] is True
        assert stored["search"]["variation"] == variation["action"]
        assert len(stored["rationale"]) == 1
        assert variation["action"]["family"] in stored["rationale"][0]
        assert lines_of(stored) == {(v["cas"], v["percent"]) for v in variation["lines"]}
        assert abs(sum(line["percent"] for line in stored["lines"]) - 100) <= 0.01
        # Different from the parent and from every other variation.
        assert frozenset(lines_of(stored)) not in seen
        seen.add(frozenset(lines_of(stored)))

    # The set is stored with its seed: the same seed draws the same edits again.
    stored_set = client.get(f"/v1/variation-sets/{answer['variation_set_id']}").json()
    assert stored_set["variations"] == variations
    assert stored_set["seed"] == answer["seed"]
    again = propose(client, parent_id, n=3, seed=answer["seed"])
    assert [v["action"] for v in again["variations"]] == [v["action"] for v in variations]


def test_variation_requests_the_api_cannot_serve_are_refused(
    client: TestClient, runtime: Runtime
) -> None:
    most = runtime.settings.rl.max_variations
    too_many = client.post(f"/v1/formulas/{UNKNOWN}/variations", json={"n": most + 1})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["body", "n"]
    zero = client.post(f"/v1/formulas/{UNKNOWN}/variations", json={"n": 0})
    assert zero.status_code == 422
    assert zero.json()["detail"][0]["loc"] == ["body", "n"]
    assert client.post(f"/v1/formulas/{UNKNOWN}/variations", json={}).status_code == 404
    assert client.get(f"/v1/variation-sets/{UNKNOWN}").status_code == 404

    # A perfumer's own material is outside the catalogue: no variation is proposed for it.
    with runtime.sessions() as session:
        formula = Formula(
            id=uuid.uuid4(),
            product="EDP",
            dosage_percent=15.0,
            cost_per_kg_eur=10.0,
            compliant=False,
            compliance={},
            pyramid={},
            rationale=[],
            designer="checked",
            lines=[
                FormulaLine(
                    position=0, cas="8007-75-8", name="Bergamot oil", tier="top", percent=50
                ),
                FormulaLine(position=1, cas="999-99-9", name="House base", tier="base", percent=50),
            ],
        )
        session.add(formula)
        session.commit()
    refused = client.post(f"/v1/formulas/{formula.id}/variations", json={"n": 2})
    assert refused.status_code == 409
    assert "House base" in refused.json()["detail"]


# What every /v1 operation may answer besides its own statuses: a missing or refused key, a
# missing scope, the rate limit, an outage; a POST also its Idempotency-Key's 400, 409 and 422.
GUARD_STATUSES = {
    "get": {"401", "403", "429", "503"},
    "post": {"400", "401", "403", "409", "422", "429", "503"},
}


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("post", "/v1/formulas/{formula_id}/variations", {"201", "404", "409", "413", "422"}),
        ("get", "/v1/variation-sets/{set_id}", {"200", "404", "422"}),
        ("post", "/v1/feedback", {"200", "201", "404", "409", "413", "422"}),
        ("post", "/v1/training-runs", {"202", "409", "413", "422", "503"}),
        ("get", "/v1/training-runs", {"200", "422"}),
        ("get", "/v1/training-runs/{run_id}", {"200", "404", "422"}),
        ("get", "/v1/policies", {"200"}),
        ("post", "/v1/policies/{policy_id}/activate", {"200", "404", "409", "422"}),
        ("post", "/v1/policies/deactivate", {"200", "409"}),
    ],
)
def test_the_openapi_document_declares_every_status_the_learning_routes_answer(
    client: TestClient, method: str, path: str, statuses: set[str]
) -> None:
    operation = client.get("/openapi.json").json()["paths"][path][method]
    assert set(operation["responses"]) == statuses | GUARD_STATUSES[method]


def test_a_choice_stores_the_chosen_over_every_other_offered_formula(
    client: TestClient, runtime: Runtime
) -> None:
    _, (parent_id, *_) = designed(client)
    answer = propose(client, parent_id, n=3)
    offered = [v["formula_id"] for v in answer["variations"]]
    chosen = offered[1]
    counted_before = preferences_counted()

    response = client.post(
        "/v1/feedback",
        json={"variation_set_id": answer["variation_set_id"], "chosen_id": chosen, "user": "ana"},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["chosen_id"] == chosen
    # Over the two other variations and over the parent, which was offered too.
    assert sorted(body["rejected_ids"]) == sorted([offered[0], offered[2], parent_id])
    assert body["preferences_stored"] == 3
    assert body["rating"] is None
    assert body["training_run"] is None
    assert preferences_counted() == counted_before + 3
    with runtime.sessions() as session:
        choice = session.get(Choice, uuid.UUID(body["choice_id"]))
        assert choice is not None
        # No rating given: none stored, never a default score.
        assert choice.rating is None
        assert choice.user_ref == "ana"
        pairs = session.execute(
            select(Preference.chosen_formula_id, Preference.rejected_formula_id).where(
                Preference.choice_id == choice.id
            )
        ).all()
    assert sorted((str(c), str(r)) for c, r in pairs) == sorted(
        (chosen, rejected) for rejected in (offered[0], offered[2], parent_id)
    )
    assert (
        client.get(f"/v1/variation-sets/{answer['variation_set_id']}").json()["chosen_id"] == chosen
    )


def test_without_the_parent_offered_the_parent_is_not_rejected(client: TestClient) -> None:
    _, (parent_id, *_) = designed(client)
    answer = propose(client, parent_id, n=2, include_parent=False)
    first, second = (v["formula_id"] for v in answer["variations"])
    body = {"variation_set_id": answer["variation_set_id"], "chosen_id": first, "rating": 4}
    response = client.post("/v1/feedback", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["rejected_ids"] == [second]
    assert response.json()["rating"] == 4
    # The parent was not offered, so it cannot be chosen either.
    other = client.post("/v1/feedback", json={**body, "chosen_id": parent_id})
    assert other.status_code == 422


def test_one_choice_per_set_the_same_again_replays_and_another_is_409(
    client: TestClient, runtime: Runtime
) -> None:
    _, (parent_id, *_) = designed(client)
    answer = propose(client, parent_id, n=2)
    first, second = (v["formula_id"] for v in answer["variations"])
    body = {
        "variation_set_id": answer["variation_set_id"],
        "chosen_id": first,
        "rating": 5,
        "note": "brighter",
    }
    created = client.post("/v1/feedback", json=body)
    assert created.status_code == 201
    counted = preferences_counted()

    replayed = client.post("/v1/feedback", json=body)
    assert replayed.status_code == 200
    assert replayed.json() == created.json()

    for changed in ({"chosen_id": second}, {"rating": 4}, {"note": "darker"}):
        conflict = client.post("/v1/feedback", json={**body, **changed})
        assert conflict.status_code == 409, changed
        assert created.json()["choice_id"] in conflict.json()["detail"]
    # Neither the replay nor the refusals stored a preference.
    assert preferences_counted() == counted
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Choice)) == 1
        assert session.scalar(select(func.count()).select_from(Preference)) == 2


def test_feedback_that_names_no_offered_formula_or_no_question_is_refused(
    client: TestClient,
) -> None:
    brief_id, (parent_id, *_) = designed(client)
    answer = propose(client, parent_id, n=2)
    set_id = answer["variation_set_id"]
    chosen = answer["variations"][0]["formula_id"]

    unknown = client.post("/v1/feedback", json={"variation_set_id": UNKNOWN, "chosen_id": chosen})
    assert unknown.status_code == 404
    unknown_brief = client.post("/v1/feedback", json={"brief_id": UNKNOWN, "chosen_id": chosen})
    assert unknown_brief.status_code == 404

    not_offered = client.post(
        "/v1/feedback", json={"variation_set_id": set_id, "chosen_id": UNKNOWN}
    )
    assert not_offered.status_code == 422
    assert not_offered.json()["detail"][0]["loc"] == ["body", "chosen_id"]

    for rating in (0, 6):
        bad = client.post(
            "/v1/feedback", json={"variation_set_id": set_id, "chosen_id": chosen, "rating": rating}
        )
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["body", "rating"]

    for question in ({}, {"variation_set_id": set_id, "brief_id": brief_id}):
        neither_or_both = client.post("/v1/feedback", json={**question, "chosen_id": chosen})
        assert neither_or_both.status_code == 422
        message = neither_or_both.json()["detail"][0]["msg"]
        assert "variation_set_id" in message
        assert "brief_id" in message

    # None of them stored anything: the set can still be answered.
    accepted = client.post("/v1/feedback", json={"variation_set_id": set_id, "chosen_id": chosen})
    assert accepted.status_code == 201


def test_a_choice_among_a_briefs_options_prefers_it_over_the_other_options(
    client: TestClient,
) -> None:
    brief_id, options = designed(client)
    assert len(options) >= 3
    # A variation of an option is stored under the same brief, but it was never offered.
    variation = propose(client, options[0], n=1)["variations"][0]["formula_id"]
    chosen = options[2]

    response = client.post(
        "/v1/feedback", json={"brief_id": brief_id, "chosen_id": chosen, "rating": 3}
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert sorted(body["rejected_ids"]) == sorted(o for o in options if o != chosen)
    assert variation not in body["rejected_ids"]
    assert body["rating"] == 3
    refused = client.post("/v1/feedback", json={"brief_id": brief_id, "chosen_id": variation})
    assert refused.status_code == 422


class HeldTraining:
    """Training that waits until released, so a run stays queued or started while a test
    looks; records the job ids the worker was given."""

    def __init__(self) -> None:
        self.jobs: list[str] = []
        self._release = threading.Event()

    def __call__(self, _runtime: Runtime, _session: Any, job: Job) -> None:
        self.jobs.append(str(job.id))
        self._release.wait(timeout=60)
        raise RuntimeError("held by the test")

    def release(self) -> None:
        self._release.set()

    def wait_for_jobs(self, count: int, timeout_s: float = 10) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while len(self.jobs) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.jobs


@pytest.fixture
def held_training(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldTraining]:
    held = HeldTraining()
    monkeypatch.setattr("fragrance_ai.training.run.run_training", held)
    try:
        yield held
    finally:
        # Before the runtime closes: it waits for its worker threads.
        held.release()


def test_a_training_run_is_queued_and_a_second_is_refused_while_it_is(
    client: TestClient, held_training: HeldTraining
) -> None:
    accepted = client.post(
        "/v1/training-runs",
        json={
            "seed": 7,
            "user": "ana",
            "total_updates": 3,
            "drill": {"lr_spike_at_update": 2, "lr_spike_factor": 50.0},
        },
    )

    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    run_id, job_id = body["training_run_id"], body["job_id"]
    assert body["status"] == "queued"
    assert accepted.headers["Location"] == f"/v1/training-runs/{run_id}"
    assert body["links"] == {
        "self": f"/v1/training-runs/{run_id}",
        "job": f"/v1/jobs/{job_id}",
        "brief": None,
    }
    second = client.post("/v1/training-runs", json={})
    assert second.status_code == 409
    assert run_id in second.json()["detail"]

    run = client.get(f"/v1/training-runs/{run_id}").json()
    assert run["trigger"] == "manual"
    assert run["seed"] == 7
    assert run["user"] == "ana"
    assert run["config"]["ppo"]["total_updates"] == 3
    assert run["config"]["drill"] == {"lr_spike_at_update": 2, "lr_spike_factor": 50.0}
    # Everything else is the profile's.
    assert run["config"]["ppo"]["num_envs"] == RLSettings().ppo.num_envs
    assert run["policies"] == []
    assert run["rollbacks"] == []
    assert run["reward_model"] is None
    assert client.get(f"/v1/jobs/{job_id}").json()["kind"] == "train_policy"
    listed = client.get("/v1/training-runs").json()
    assert [item["id"] for item in listed["items"]] == [run_id]
    assert client.get(f"/v1/training-runs/{UNKNOWN}").status_code == 404
    # The worker was handed this run's job.
    assert held_training.wait_for_jobs(1) == [job_id]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"total_updates": 0}, ["body", "total_updates"]),
        (
            {"drill": {"lr_spike_at_update": 0, "lr_spike_factor": 10.0}},
            ["body", "drill", "lr_spike_at_update"],
        ),
        (
            {"drill": {"lr_spike_at_update": 3, "lr_spike_factor": 0.5}},
            ["body", "drill", "lr_spike_factor"],
        ),
        ({"seed": -1}, ["body", "seed"]),
    ],
)
def test_a_training_run_with_overrides_outside_the_settings_range_is_422(
    client: TestClient, runtime: Runtime, body: dict[str, object], loc: list[object]
) -> None:
    response = client.post("/v1/training-runs", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(TrainingRun)) == 0


def test_with_the_queue_down_a_training_run_is_kept_as_failed_with_a_503(tmp_path: Path) -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    runtime = build_runtime(make_settings(tmp_path, redis_url=unreachable))
    upgrade_to_head(runtime.engine)
    try:
        with TestClient(create_app(runtime)) as client:
            refused = client.post("/v1/training-runs", json={})
            # The failed run does not block the next attempt.
            again = client.post("/v1/training-runs", json={})
    finally:
        runtime.close()
        install_runtime(None)
    assert refused.status_code == 503
    assert "saved as failed" in refused.json()["detail"]
    assert again.status_code == 503
    with runtime.sessions() as session:
        runs = session.scalars(select(TrainingRun)).all()
        jobs = session.scalars(select(Job)).all()
    assert [run.status for run in runs] == ["failed", "failed"]
    assert all(run.error and run.error.startswith("could not enqueue") for run in runs)
    assert [job.status for job in jobs] == ["failed", "failed"]


def test_enough_new_preferences_start_a_training_run_by_themselves(
    tmp_path: Path, held_training: HeldTraining
) -> None:
    runtime = build_runtime(make_settings(tmp_path, rl=RLSettings(auto_train_every=3)))
    upgrade_to_head(runtime.engine)
    try:
        with TestClient(create_app(runtime)) as client:
            _, (parent_id, *_) = designed(client)
            first = propose(client, parent_id, n=1)
            second = propose(client, parent_id, n=2)
            # One preference (the parent over its variation): not yet three.
            below = client.post(
                "/v1/feedback",
                json={"variation_set_id": first["variation_set_id"], "chosen_id": parent_id},
            )
            body = {
                "variation_set_id": second["variation_set_id"],
                "chosen_id": second["variations"][0]["formula_id"],
            }
            reached = client.post("/v1/feedback", json=body)
            replayed = client.post("/v1/feedback", json=body)
            third = propose(client, parent_id, n=3)
            while_queued = client.post(
                "/v1/feedback",
                json={"variation_set_id": third["variation_set_id"], "chosen_id": parent_id},
            )
    finally:
        held_training.release()
        runtime.close()
        install_runtime(None)
    assert below.json()["preferences_stored"] == 1
    assert below.json()["training_run"] is None
    assert reached.json()["preferences_stored"] == 2
    run = reached.json()["training_run"]
    assert run is not None
    assert run["status"] in ("queued", "started")
    assert replayed.status_code == 200
    assert replayed.json()["training_run"]["id"] == run["id"]
    # A run is queued or started: the next choice starts none.
    assert while_queued.status_code == 201
    assert while_queued.json()["training_run"] is None
    with runtime.sessions() as session:
        rows = session.scalars(select(TrainingRun)).all()
    assert [(str(row.id), row.trigger) for row in rows] == [(run["id"], "auto")]


def write_policy(
    runtime: Runtime, version: int, *, favour: str | None = None, hidden: int = 8
) -> uuid.UUID:
    """A policy checkpoint as the trainer leaves one: its file and its row (not active)."""
    table = material_table(runtime.catalogue)
    features, actions = state_feature_names(table), action_names(table)
    rng = np.random.default_rng(version)
    arrays = {
        "actor.0.weight": rng.normal(0, 0.1, (hidden, len(features))),
        "actor.0.bias": np.zeros(hidden),
        "actor.2.weight": rng.normal(0, 0.1, (hidden, hidden)),
        "actor.2.bias": np.zeros(hidden),
        "actor.4.weight": rng.normal(0, 0.1, (len(actions), hidden)),
        "actor.4.bias": np.zeros(len(actions)),
    }
    if favour is not None:
        # Far above every other action: the policy all but always makes this edit.
        arrays["actor.4.bias"][actions.index(favour)] = 50.0
    metadata = {
        "feature_names": json.dumps(list(features)),
        "action_names": json.dumps(list(actions)),
    }
    relative = f"policies/v{version:05d}.safetensors"
    sha256 = write_atomically(runtime.settings.policies_root / relative, encode(arrays, metadata))
    with runtime.sessions() as session:
        run = TrainingRun(
            id=uuid.uuid4(), status="finished", trigger="manual", seed=version, config={}
        )
        session.add(run)
        session.flush()
        policy = Policy(
            id=uuid.uuid4(),
            version=version,
            training_run_id=run.id,
            at_update=5 * version,
            path=relative,
            sha256=sha256,
            metrics={"approx_kl": 0.01},
            evaluation={"mean_return": 0.1 * version},
        )
        session.add(policy)
        session.commit()
        return policy.id


def corrupt(runtime: Runtime, version: int) -> None:
    path = runtime.settings.policies_root / f"policies/v{version:05d}.safetensors"
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))


def test_activating_a_policy_makes_it_propose_and_deactivating_goes_back_to_initial(
    client: TestClient, runtime: Runtime
) -> None:
    _, (parent_id, *_) = designed(client)
    # An edit the formula allows, and a policy that all but always makes it.
    favoured = propose(client, parent_id, n=1)["variations"][0]["action"]["action"]
    policy_id = write_policy(runtime, 1, favour=favoured)
    write_policy(runtime, 2)
    assert client.get("/v1/policies").json()["active"] is None

    activated = client.post(f"/v1/policies/{policy_id}/activate")

    assert activated.status_code == 200, activated.text
    assert activated.json() == {"active": {"id": str(policy_id), "version": 1}, "previous": None}
    assert REGISTRY.get_sample_value("fragrance_rl_active_policy_version") == 1
    listed = client.get("/v1/policies").json()
    assert listed["active"] == {"id": str(policy_id), "version": 1}
    assert [(p["version"], p["active"]) for p in listed["policies"]] == [(2, False), (1, True)]
    answer = propose(client, parent_id, n=2)
    assert answer["policy"] == {"id": str(policy_id), "version": 1}
    assert answer["variations"][0]["action"]["action"] == favoured
    assert answer["variations"][0]["probability"] > 0.99
    stored = client.get(f"/v1/formulas/{answer['variations'][0]['formula_id']}").json()
    assert stored["designer"] == "policy:v1"
    assert client.get(f"/v1/variation-sets/{answer['variation_set_id']}").json()["policy"] == {
        "id": str(policy_id),
        "version": 1,
    }

    deactivated = client.post("/v1/policies/deactivate")

    assert deactivated.status_code == 200
    assert deactivated.json() == {"active": None, "previous": {"id": str(policy_id), "version": 1}}
    assert client.get("/v1/policies").json()["active"] is None
    initial = propose(client, parent_id, n=2)
    assert initial["policy"] is None
    assert initial["variations"][0]["probability"] < 0.5
    assert client.post(f"/v1/policies/{UNKNOWN}/activate").status_code == 404


def test_a_policy_whose_file_fails_verification_is_not_activated_nor_served(
    client: TestClient, runtime: Runtime
) -> None:
    good = write_policy(runtime, 1)
    assert client.post(f"/v1/policies/{good}/activate").status_code == 200
    broken = write_policy(runtime, 2)
    corrupt(runtime, 2)

    refused = client.post(f"/v1/policies/{broken}/activate")

    assert refused.status_code == 409
    assert "sha256" in refused.json()["detail"]
    assert client.get("/v1/policies").json()["active"]["version"] == 1

    pruned = write_policy(runtime, 3)
    with runtime.sessions() as session:
        row = session.get(Policy, pruned)
        assert row is not None
        row.kept = False
        session.commit()
    assert client.post(f"/v1/policies/{pruned}/activate").status_code == 409

    # A file broken after its policy became active (the trainer activates too): the API
    # still answers, with the initial policy, and says why.
    with runtime.sessions() as session:
        for policy in session.scalars(select(Policy)):
            policy.active = False
        session.flush()
        row = session.get(Policy, broken)
        assert row is not None
        row.active = True
        session.commit()
    _, (parent_id, *_) = designed(client)
    served = propose(client, parent_id, n=2)
    assert served["policy"] is None
    assert len(served["variations"]) == 2
    assert len(served["warnings"]) == 1
    assert "policy v2" in served["warnings"][0]
    assert (
        client.get(f"/v1/formulas/{served['variations'][0]['formula_id']}").json()["designer"]
        == "policy:initial"
    )


@pytest.mark.integration
def test_two_different_choices_at_once_for_one_set_keep_exactly_the_first(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = build_runtime(make_settings(tmp_path, database_url=postgres_url))
    upgrade_to_head(runtime.engine)
    # Both requests reach the insert before either commits: the unique constraint decides.
    both_ready = threading.Barrier(2, timeout=30)

    def save_when_both_are_ready(*args: Any, **kwargs: Any) -> tuple[Choice, list[uuid.UUID]]:
        both_ready.wait()
        return save_choice(*args, **kwargs)

    try:
        with TestClient(create_app(runtime)) as client:
            _, (parent_id, *_) = designed(client)
            answer = propose(client, parent_id, n=2)
            set_id = answer["variation_set_id"]
            candidates = [v["formula_id"] for v in answer["variations"]]
            monkeypatch.setattr(choices_use_case, "save_choice", save_when_both_are_ready)
            with ThreadPoolExecutor(2) as pool:
                responses = list(
                    pool.map(
                        lambda chosen: client.post(
                            "/v1/feedback", json={"variation_set_id": set_id, "chosen_id": chosen}
                        ),
                        candidates,
                    )
                )
    finally:
        runtime.close()
        install_runtime(None)

    assert sorted(r.status_code for r in responses) == [201, 409]
    winner = next(r for r in responses if r.status_code == 201).json()
    loser = next(r for r in responses if r.status_code == 409).json()
    assert winner["choice_id"] in loser["detail"]
    with runtime.sessions() as session:
        choices = session.scalars(select(Choice)).all()
        preferences = session.scalars(select(Preference)).all()
    assert len(choices) == 1
    assert str(choices[0].chosen_formula_id) == winner["chosen_id"]
    # Chosen over the other variation and over the parent, once.
    assert len(preferences) == 2
    assert {p.choice_id for p in preferences} == {choices[0].id}


def test_each_choice_refits_the_reward_model_that_asks_the_next_question(
    client: TestClient, runtime: Runtime
) -> None:
    _, (parent_id, *_) = designed(client)
    first = propose(client, parent_id, n=3)
    # A fresh installation: no reward model yet, the questions come from the initial policy.
    assert first["reward_model"] is None
    chosen = first["variations"][0]["formula_id"]
    answered = client.post(
        "/v1/feedback",
        json={"variation_set_id": first["variation_set_id"], "chosen_id": chosen, "user": "ana"},
    )
    assert answered.status_code == 201, answered.text

    with runtime.sessions() as session:
        refitted = session.scalars(select(RewardModel).order_by(RewardModel.version)).all()
        # Every perfumer's model and Ana's own, each on the 3 preferences, by no training run.
        assert [(row.user_ref, row.preferences) for row in refitted] == [(None, 3), ("ana", 3)]
        assert all(row.training_run_id is None for row in refitted)
        assert all(row.metrics["trigger"] == "choice" for row in refitted)
        shared = refitted[0]
    second = propose(client, chosen, n=3)
    assert second["reward_model"] == {"id": str(shared.id), "version": shared.version}


def test_a_refit_that_fails_leaves_the_choice_standing(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, (parent_id, *_) = designed(client)
    answer = propose(client, parent_id, n=3)

    def broken(*_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(feedback_route, "refit_after_choice", broken)
    chosen = answer["variations"][1]["formula_id"]
    response = client.post(
        "/v1/feedback",
        json={"variation_set_id": answer["variation_set_id"], "chosen_id": chosen},
    )
    assert response.status_code == 201, response.text
    assert response.json()["preferences_stored"] == 3
    assert (
        client.get(f"/v1/variation-sets/{answer['variation_set_id']}").json()["chosen_id"] == chosen
    )
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(RewardModel)) == 0


def test_a_perfumer_is_asked_with_their_own_model_and_a_newcomer_with_everyones(
    client: TestClient, runtime: Runtime
) -> None:
    _, (parent_id, *_) = designed(client)
    asked = propose(client, parent_id, n=3, user="ana")
    chosen = asked["variations"][0]["formula_id"]
    answered = client.post(
        "/v1/feedback",
        json={"variation_set_id": asked["variation_set_id"], "chosen_id": chosen, "user": "ana"},
    )
    assert answered.status_code == 201, answered.text
    with runtime.sessions() as session:
        rows = {
            row.user_ref: row
            for row in session.scalars(select(RewardModel).order_by(RewardModel.version))
        }
    own, everyones = rows["ana"], rows[None]

    assert propose(client, chosen, n=3, user="ana")["reward_model"]["id"] == str(own.id)
    assert propose(client, chosen, n=3, user="ben")["reward_model"]["id"] == str(everyones.id)
    assert propose(client, chosen, n=3)["reward_model"]["id"] == str(everyones.id)


def test_the_taste_a_perfumers_choices_taught_is_read_in_words(
    client: TestClient,
) -> None:
    nothing = client.get("/v1/taste", params={"user": "ana"})
    assert nothing.status_code == 200, nothing.text
    assert nothing.json()["whose"] == "none"
    assert nothing.json()["readings"] == []

    _, (parent_id, *_) = designed(client)
    parent = parent_id
    for _ in range(3):
        asked = propose(client, parent, n=3, user="ana")
        parent = asked["variations"][0]["formula_id"]
        answered = client.post(
            "/v1/feedback",
            json={
                "variation_set_id": asked["variation_set_id"],
                "chosen_id": parent,
                "user": "ana",
            },
        )
        assert answered.status_code == 201, answered.text

    own = client.get("/v1/taste", params={"user": "ana"}).json()
    assert own["whose"] == "own"
    assert own["choices"] == 3
    assert own["preferences"] == 9
    readings = own["readings"]
    assert readings, own
    assert readings == sorted(readings, key=lambda r: -r["probability"])
    assert 0 < sum(r["probability"] for r in readings) <= 1 + 1e-9
    worded = next(r for r in readings if r["terms"])
    assert worded["words"] == ", ".join(f"{t['direction']} {t['words']}" for t in worded["terms"])
    # Three choices do not make a confident reading; how many more is an estimate or none.
    assert own["confident"] is False
    assert own["more_choices"] is None or own["more_choices"] >= 1
    assert client.get("/v1/taste", params={"user": "ben"}).json()["whose"] == "everyone"

    refused = client.get("/v1/taste", params={"user": ""})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "user"]

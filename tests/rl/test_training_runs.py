"""Training runs end to end on the embedded default: checkpoints that repeat byte for byte
under a seed, an injected learning-rate spike rolled back with its reason, and the
`fragrance-ai train` command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from bench.perfumer import WOODY_NOT_SWEET, Perfumer, train
from fragrance_ai.api.app import create_app
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.runtime import Runtime, build_runtime, install_runtime
from fragrance_ai.settings import RLSettings
from tests.conftest import make_settings


@pytest.fixture
def learning_runtime(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(make_settings(tmp_path, rl=RLSettings(auto_train_every=0)))
    upgrade_to_head(runtime.engine)
    yield runtime
    runtime.close()
    install_runtime(None)


@pytest.fixture
def chosen_client(learning_runtime: Runtime, catalogue: Catalogue) -> Iterator[TestClient]:
    """An installation where a perfumer has made 6 brief choices and 30 variation choices."""
    with TestClient(create_app(learning_runtime)) as client:
        perfumer = Perfumer(client, catalogue, WOODY_NOT_SWEET, np.random.default_rng(0))
        perfumer.sessions(perfumer.submit_briefs(), 30)
        yield client


def _policies_of(client: TestClient, run: dict[str, Any]) -> dict[int, dict[str, Any]]:
    listed = client.get("/v1/policies").json()["policies"]
    return {p["at_update"]: p for p in listed if p["training_run_id"] == run["id"]}


def test_two_runs_with_the_same_seed_write_byte_identical_checkpoints(
    chosen_client: TestClient, learning_runtime: Runtime
) -> None:
    first = train(chosen_client, seed=7, updates=10)
    # Both runs must start from the same weights: back to the initial policy.
    assert chosen_client.post("/v1/policies/deactivate").status_code == 200
    second = train(chosen_client, seed=7, updates=10)
    first_policies = _policies_of(chosen_client, first)
    second_policies = _policies_of(chosen_client, second)
    assert sorted(first_policies) == sorted(second_policies) == [5, 10]
    for update in (5, 10):
        assert first_policies[update]["sha256"] == second_policies[update]["sha256"]
    root = learning_runtime.settings.policies_root
    for update in (5, 10):
        a = root / f"runs/{first['id']}/update-{update:05d}.safetensors"
        b = root / f"runs/{second['id']}/update-{update:05d}.safetensors"
        assert a.read_bytes() == b.read_bytes()
    assert first["reward_model"]["heldout_accuracy"] == second["reward_model"]["heldout_accuracy"]
    # Another seed trains another policy.
    assert chosen_client.post("/v1/policies/deactivate").status_code == 200
    third = _policies_of(chosen_client, train(chosen_client, seed=8, updates=10))
    assert third[10]["sha256"] != first_policies[10]["sha256"]


def test_a_learning_rate_spike_is_rolled_back_to_the_last_good_checkpoint(
    chosen_client: TestClient,
) -> None:
    response = chosen_client.post(
        "/v1/training-runs",
        json={
            "seed": 3,
            "total_updates": 10,
            "drill": {"lr_spike_at_update": 10, "lr_spike_factor": 1000.0},
        },
    )
    assert response.status_code == 202, response.text
    run_id = response.json()["training_run_id"]
    run = _wait_for_run(chosen_client, run_id)
    assert run["status"] == "finished", run["error"]
    policies = _policies_of(chosen_client, run)
    # The spiked update wrote no checkpoint; the weights went back to update 5's.
    assert sorted(policies) == [5]
    (rollback,) = run["rollbacks"]
    assert rollback["at_update"] == 10
    assert "approximate KL" in rollback["reason"] or "loss" in rollback["reason"]
    assert rollback["to_policy_id"] == policies[5]["id"]
    active = chosen_client.get("/v1/policies").json()["active"]
    assert active is not None
    assert active["id"] == policies[5]["id"]
    metrics = chosen_client.get("/metrics").text
    assert "fragrance_rl_rollbacks_total" in metrics


def _wait_for_run(client: TestClient, run_id: str) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"/v1/training-runs/{run_id}").json()
        if run["status"] in ("finished", "failed"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"training run {run_id} did not end")


def test_the_train_command_refuses_without_preferences(tmp_path: Path) -> None:
    environment = {**os.environ, "DATA_DIR": str(tmp_path), "APP_ENV": "development"}
    migrate = subprocess.run(
        [sys.executable, "-m", "fragrance_ai.cli", "migrate"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    completed = subprocess.run(
        [sys.executable, "-m", "fragrance_ai.cli", "train", "--seed", "1", "--updates", "2"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    assert "needs at least 20 preferences" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_the_train_command_trains_and_prints_a_summary(
    chosen_client: TestClient, learning_runtime: Runtime
) -> None:
    environment = {
        **os.environ,
        "DATA_DIR": str(learning_runtime.settings.data_dir),
        "APP_ENV": "development",
        "RL__AUTO_TRAIN_EVERY": "0",
    }
    completed = subprocess.run(
        [sys.executable, "-m", "fragrance_ai.cli", "train", "--seed", "2", "--updates", "5"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "reward model held-out accuracy" in completed.stdout
    assert "5/5 updates" in completed.stderr
    runs = chosen_client.get("/v1/training-runs").json()["items"]
    assert runs[0]["trigger"] == "cli"
    assert runs[0]["status"] == "finished"

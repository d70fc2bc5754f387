"""Proof that the product learns from choices: a simulated perfumer with a hidden taste
chooses through the HTTP API; after a training run the active policy's proposals score
higher on that taste than the initial policy's, for several seeds, with a permutation
test; the opposite taste moves the policy the other way. Each experiment runs on a fresh
installation (SQLite, in-process queue, the real job functions)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from bench.perfumer import WOODY_NOT_SWEET, ExperimentResult, Taste, run_experiment
from fragrance_ai.api.app import create_app
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.runtime import build_runtime, install_runtime
from fragrance_ai.settings import RLSettings
from tests.conftest import make_settings

CHOICES = 100
UPDATES = 30


@pytest.fixture
def fresh_client(tmp_path: Path) -> Iterator[TestClient]:
    runtime = build_runtime(make_settings(tmp_path, rl=RLSettings(auto_train_every=0)))
    upgrade_to_head(runtime.engine)
    try:
        with TestClient(create_app(runtime)) as client:
            yield client
    finally:
        runtime.close()
        install_runtime(None)


def _experiment(
    client: TestClient, catalogue: Catalogue, taste: Taste, seed: int
) -> ExperimentResult:
    result = run_experiment(
        client, catalogue, taste, seed=seed, rounds=CHOICES, updates=UPDATES, measure_seeds=3
    )
    assert result.choices == CHOICES + 6
    # Every variation choice is 3 pairs (two variations and the parent); each brief's
    # choice one pair per other option.
    assert result.preferences >= 3 * CHOICES
    assert result.heldout_accuracy is not None
    assert result.heldout_accuracy > 0.6, result.heldout_accuracy
    assert result.run["metrics"]["activated_policy_id"] is not None, result.run["metrics"]
    return result


@pytest.mark.parametrize("seed", [1, 2])
def test_the_policy_learns_a_perfumers_taste(
    fresh_client: TestClient, catalogue: Catalogue, seed: int
) -> None:
    result = _experiment(fresh_client, catalogue, WOODY_NOT_SWEET, seed)
    assert np.mean(result.after) > np.mean(result.before)
    assert result.p_value < 0.01, (result.p_value, result.effect_size)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_opposite_taste_moves_the_policy_the_other_way(
    fresh_client: TestClient, catalogue: Catalogue, seed: int
) -> None:
    opposite = WOODY_NOT_SWEET.opposite()
    result = _experiment(fresh_client, catalogue, opposite, seed)
    assert result.p_value < 0.01, (result.p_value, result.effect_size)
    # Scored on the first taste, the proposals now go the other way.
    assert np.mean(result.after) > np.mean(result.before)
    on_first_taste_before = -np.mean(result.before)
    on_first_taste_after = -np.mean(result.after)
    assert on_first_taste_after < on_first_taste_before

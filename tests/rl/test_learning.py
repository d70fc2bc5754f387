"""Proof that the product learns from choices: a simulated perfumer with a hidden taste
chooses through the HTTP API; after a training run the active policy's proposals score
higher on that taste than the initial policy's. Over several seeds, each on a fresh
installation (SQLite, in-process queue, the real job functions), with a permutation test
on the pooled proposals, not one lucky run; the opposite taste moves the policy the other
way. (One seed alone can miss: bench/rl.py reports each seed's figures.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from bench.perfumer import (
    WOODY_NOT_SWEET,
    ExperimentResult,
    Taste,
    permutation_p_value,
    run_experiment,
)
from fragrance_ai.api.app import create_app
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.runtime import build_runtime, install_runtime
from fragrance_ai.settings import RLSettings
from tests.conftest import make_settings

SEEDS = (1, 2)
# 150 simulated choices, not 100: once the compliance data held every IFRA Standard and EU
# annex entry (issue 24: cedarwood capped through its cedrene, Tonalide and the salicylates
# capped), the policy has less room, and after 100 choices the opposite taste's pooled p-value
# was 0.063 (seed 2's gain 0.0017, p 0.29). 150 restore the test's power (p 5e-5 and 0.0034).
# The effect is small and moves with float-level differences between runs: issue 27.
CHOICES = 150
UPDATES = 30


def _experiment(data_dir: Path, catalogue: Catalogue, taste: Taste, seed: int) -> ExperimentResult:
    runtime = build_runtime(make_settings(data_dir, rl=RLSettings(auto_train_every=0)))
    upgrade_to_head(runtime.engine)
    try:
        with TestClient(create_app(runtime)) as client:
            result = run_experiment(
                client, catalogue, taste, seed=seed, rounds=CHOICES, updates=UPDATES
            )
    finally:
        runtime.close()
        install_runtime(None)
    assert result.choices == CHOICES + 6
    # Every variation choice is 3 pairs (two variations and the parent); each brief's
    # choice one pair per other option.
    assert result.preferences >= 3 * CHOICES
    assert result.heldout_accuracy is not None
    assert result.heldout_accuracy > 0.6, result.heldout_accuracy
    assert result.run["metrics"]["activated_policy_id"] is not None, result.run["metrics"]
    return result


@pytest.mark.parametrize("taste", [WOODY_NOT_SWEET, WOODY_NOT_SWEET.opposite()], ids=str)
def test_the_trained_policy_proposes_what_the_perfumer_prefers(
    tmp_path: Path, catalogue: Catalogue, taste: Taste
) -> None:
    results = [_experiment(tmp_path / str(seed), catalogue, taste, seed) for seed in SEEDS]
    before = [gain for result in results for gain in result.before]
    after = [gain for result in results for gain in result.after]
    p_value = permutation_p_value(before, after, seed=0)
    per_seed = [(r.seed, round(r.gain, 4), round(r.p_value, 4)) for r in results]
    assert np.mean(after) > np.mean(before), per_seed
    assert p_value < 0.01, (p_value, per_seed)
    if taste is not WOODY_NOT_SWEET:
        # Scored on the first taste, the proposals went the other way.
        first_before = -np.mean(before)
        first_after = -np.mean(after)
        assert first_after < first_before

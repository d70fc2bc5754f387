"""The Bradley-Terry reward models (the sparse and the dense prior) learn a taste from
pairs, and say how sure they are."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest

from fragrance_ai.rl.reward_model import fit_reward_model
from fragrance_ai.rl.weights_file import decode
from fragrance_ai.settings import RewardModelSettings

NAMES = tuple(f"f{i}" for i in range(6))
Prior = Literal["sparse", "dense"]
# What every reward model must do, whatever its prior.
PRIORS = pytest.mark.parametrize("prior", ["sparse", "dense"])


def _pairs(count: int, seed: int, noise: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    taste = np.array([2.0, -1.5, 0.0, 0.0, 0.5, 0.0])
    a, b = rng.normal(size=(count, 6)), rng.normal(size=(count, 6))
    prefer_a = (a - b) @ taste + rng.logistic(scale=noise, size=count) > 0
    return np.where(prefer_a[:, None], a, b), np.where(prefer_a[:, None], b, a)


@PRIORS
def test_it_recovers_a_known_taste_with_high_heldout_accuracy(prior: Prior) -> None:
    chosen, rejected = _pairs(400, seed=1)
    fitted = fit_reward_model(chosen, rejected, NAMES, RewardModelSettings(prior=prior), seed=5)
    assert fitted.heldout_pairs == 80
    assert fitted.heldout_accuracy is not None
    assert fitted.heldout_accuracy > 0.85
    weights = fitted.model.weights.mean(axis=0) / fitted.model.scale
    assert weights[0] > 0
    assert weights[1] < 0
    assert abs(weights[2]) < abs(weights[0]) / 4


@PRIORS
def test_random_choices_give_chance_accuracy_not_more(prior: Prior) -> None:
    rng = np.random.default_rng(2)
    chosen, rejected = rng.normal(size=(400, 6)), rng.normal(size=(400, 6))
    fitted = fit_reward_model(chosen, rejected, NAMES, RewardModelSettings(prior=prior), seed=5)
    assert fitted.heldout_accuracy is not None
    assert fitted.heldout_accuracy < 0.65


@PRIORS
def test_too_few_pairs_hold_nothing_out_and_report_no_accuracy(prior: Prior) -> None:
    chosen, rejected = _pairs(8, seed=3)
    fitted = fit_reward_model(chosen, rejected, NAMES, RewardModelSettings(prior=prior), seed=5)
    assert fitted.heldout_pairs == 0
    assert fitted.heldout_accuracy is None


@PRIORS
def test_members_disagree_more_where_data_is_thin(prior: Prior) -> None:
    chosen, rejected = _pairs(200, seed=4)
    fitted = fit_reward_model(
        chosen, rejected, NAMES, RewardModelSettings(prior=prior, members=5), seed=5
    )
    near = np.zeros((1, 6))
    far = np.full((1, 6), 8.0)
    assert fitted.model.uncertainty(far)[0] > fitted.model.uncertainty(near)[0]


@PRIORS
def test_the_same_seed_fits_the_same_file(prior: Prior) -> None:
    chosen, rejected = _pairs(100, seed=6)
    first = fit_reward_model(
        chosen, rejected, NAMES, RewardModelSettings(prior=prior), seed=9
    ).encoded()
    second = fit_reward_model(
        chosen, rejected, NAMES, RewardModelSettings(prior=prior), seed=9
    ).encoded()
    assert first == second
    arrays, metadata = decode(first)
    assert arrays["reward.weight"].shape == (5, 6)
    assert metadata["format"] == "fragrance-ai-reward/1"


CANDIDATES = (1e-3, 1e-2, 1e-1, 1.0, 10.0)


def test_cross_validation_picks_a_strong_l2_for_noise_and_a_weak_one_for_a_clear_taste() -> None:
    config = RewardModelSettings(prior="dense", l2_candidates=CANDIDATES)
    rng = np.random.default_rng(7)
    noise = fit_reward_model(
        rng.normal(size=(200, 6)), rng.normal(size=(200, 6)), NAMES, config, seed=5
    )
    chosen, rejected = _pairs(200, seed=8, noise=0.1)
    clear = fit_reward_model(chosen, rejected, NAMES, config, seed=5)
    assert noise.l2 >= 0.1
    assert clear.l2 <= 1e-2
    assert clear.heldout_accuracy is not None
    assert clear.heldout_accuracy > 0.85


def test_without_candidates_or_with_too_few_pairs_the_configured_l2_is_used() -> None:
    chosen, rejected = _pairs(100, seed=6)
    fixed = fit_reward_model(
        chosen, rejected, NAMES, RewardModelSettings(prior="dense", l2=0.05), seed=5
    )
    assert fixed.l2 == 0.05
    few = RewardModelSettings(prior="dense", l2=0.05, l2_candidates=CANDIDATES, cv_folds=5)
    # 8 pairs: nothing held out, and fewer than 2 a fold for 5 folds.
    chosen, rejected = _pairs(8, seed=3)
    assert fit_reward_model(chosen, rejected, NAMES, few, seed=5).l2 == 0.05


def test_an_l1_penalty_zeroes_the_features_the_choices_do_not_support() -> None:
    # The taste weighs f0, f1 and f4; f2, f3 and f5 are noise.
    chosen, rejected = _pairs(60, seed=10)
    plain = fit_reward_model(chosen, rejected, NAMES, RewardModelSettings(prior="dense"), seed=5)
    sparse = fit_reward_model(
        chosen, rejected, NAMES, RewardModelSettings(prior="dense", l1=0.05), seed=5
    )
    unsupported = [2, 3, 5]
    plain_noise = np.abs(plain.model.weights[:, unsupported]).mean()
    sparse_noise = np.abs(sparse.model.weights[:, unsupported]).mean()
    assert sparse_noise < plain_noise / 3
    assert sparse.heldout_accuracy is not None
    assert plain.heldout_accuracy is not None
    assert sparse.heldout_accuracy >= plain.heldout_accuracy - 0.1

"""The Bradley-Terry ensemble learns a taste from pairs, and says how sure it is."""

from __future__ import annotations

import numpy as np

from fragrance_ai.rl.reward_model import fit_reward_model
from fragrance_ai.rl.weights_file import decode
from fragrance_ai.settings import RewardModelSettings

NAMES = tuple(f"f{i}" for i in range(6))


def _pairs(count: int, seed: int, noise: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    taste = np.array([2.0, -1.5, 0.0, 0.0, 0.5, 0.0])
    a, b = rng.normal(size=(count, 6)), rng.normal(size=(count, 6))
    prefer_a = (a - b) @ taste + rng.logistic(scale=noise, size=count) > 0
    return np.where(prefer_a[:, None], a, b), np.where(prefer_a[:, None], b, a)


def test_it_recovers_a_known_taste_with_high_heldout_accuracy() -> None:
    chosen, rejected = _pairs(400, seed=1)
    fitted = fit_reward_model(chosen, rejected, NAMES, RewardModelSettings(), seed=5)
    assert fitted.heldout_pairs == 80
    assert fitted.heldout_accuracy is not None
    assert fitted.heldout_accuracy > 0.85
    weights = fitted.model.weights.mean(axis=0) / fitted.model.scale
    assert weights[0] > 0
    assert weights[1] < 0
    assert abs(weights[2]) < abs(weights[0]) / 4


def test_random_choices_give_chance_accuracy_not_more() -> None:
    rng = np.random.default_rng(2)
    chosen, rejected = rng.normal(size=(400, 6)), rng.normal(size=(400, 6))
    fitted = fit_reward_model(chosen, rejected, NAMES, RewardModelSettings(), seed=5)
    assert fitted.heldout_accuracy is not None
    assert fitted.heldout_accuracy < 0.65


def test_too_few_pairs_hold_nothing_out_and_report_no_accuracy() -> None:
    chosen, rejected = _pairs(8, seed=3)
    fitted = fit_reward_model(chosen, rejected, NAMES, RewardModelSettings(), seed=5)
    assert fitted.heldout_pairs == 0
    assert fitted.heldout_accuracy is None


def test_members_disagree_more_where_data_is_thin() -> None:
    chosen, rejected = _pairs(200, seed=4)
    fitted = fit_reward_model(chosen, rejected, NAMES, RewardModelSettings(members=5), seed=5)
    near = np.zeros((1, 6))
    far = np.full((1, 6), 8.0)
    assert fitted.model.uncertainty(far)[0] > fitted.model.uncertainty(near)[0]


def test_the_same_seed_fits_the_same_file() -> None:
    chosen, rejected = _pairs(100, seed=6)
    first = fit_reward_model(chosen, rejected, NAMES, RewardModelSettings(), seed=9).encoded()
    second = fit_reward_model(chosen, rejected, NAMES, RewardModelSettings(), seed=9).encoded()
    assert first == second
    arrays, metadata = decode(first)
    assert arrays["reward.weight"].shape == (5, 6)
    assert metadata["format"] == "fragrance-ai-reward/1"

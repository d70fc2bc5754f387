"""The sparse reward model: a taste about a few features is found from few choices, a taste
about many is left to the dense model inside it, and the posterior mean is what ranks."""

from __future__ import annotations

import numpy as np

from fragrance_ai.rl.exported import ExportedReward
from fragrance_ai.rl.reward_model import fit_reward_model
from fragrance_ai.rl.sparse_reward import Choices, fit_sparse_reward, posterior, shared_prior
from fragrance_ai.rl.weights_file import decode
from fragrance_ai.settings import RewardModelSettings

FEATURES = 40
NAMES = tuple(f"share:family:f{i}" for i in range(FEATURES))


def _pairs(taste: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of formulas a few percent apart in every share, chosen by a Bradley-Terry
    perfumer with the given taste (logit per unit of share)."""
    rng = np.random.default_rng(seed)
    a = rng.normal(scale=0.03, size=(count, FEATURES))
    b = rng.normal(scale=0.03, size=(count, FEATURES))
    prefer_a = (a - b) @ taste + rng.logistic(size=count) > 0
    return np.where(prefer_a[:, None], a, b), np.where(prefer_a[:, None], b, a)


def _agreement(model: ExportedReward, taste: np.ndarray, seed: int) -> float:
    """How often the model orders fresh pairs as the taste itself does."""
    rng = np.random.default_rng(seed)
    a = rng.normal(scale=0.03, size=(2000, FEATURES))
    b = rng.normal(scale=0.03, size=(2000, FEATURES))
    return float(np.mean((model.score(a) > model.score(b)) == ((a - b) @ taste > 0)))


TWO_THINGS = np.zeros(FEATURES)
TWO_THINGS[[3, 17]] = [60.0, -60.0]


def test_a_taste_about_two_things_is_found_from_45_pairs_where_the_dense_fit_is_not() -> None:
    chosen, rejected = _pairs(TWO_THINGS, 45, seed=1)
    sparse = fit_reward_model(chosen, rejected, NAMES, RewardModelSettings(), seed=2)
    dense = fit_reward_model(chosen, rejected, NAMES, RewardModelSettings(prior="dense"), seed=2)
    assert _agreement(sparse.model, TWO_THINGS, seed=3) > 0.9
    assert _agreement(dense.model, TWO_THINGS, seed=3) < 0.8
    differences = (chosen - rejected) / sparse.model.scale
    readings = posterior(Choices.of(differences, None), 1.0, 0.1).readings(NAMES, 3)
    assert str(readings[0]) == "+share:family:f3 -share:family:f17"
    assert readings[0].probability > 0.8
    assert sparse.readings[0] == readings[0]


def test_a_taste_about_many_things_is_left_to_the_dense_model() -> None:
    many = np.random.default_rng(4).normal(scale=40.0, size=FEATURES)
    chosen, rejected = _pairs(many, 200, seed=5)
    fitted = fit_sparse_reward(chosen, rejected, NAMES, RewardModelSettings(), seed=6)
    differences = (chosen - rejected) / fitted.model.scale
    assert posterior(Choices.of(differences, None), 1.0, 0.1).dense_mass > 0.99
    assert _agreement(fitted.model, many, seed=7) > 0.8


def test_the_posterior_mean_ranks_and_the_members_are_draws_around_it() -> None:
    chosen, rejected = _pairs(TWO_THINGS, 30, seed=8)
    fitted = fit_sparse_reward(chosen, rejected, NAMES, RewardModelSettings(members=8), seed=9)
    model = fitted.model
    assert model.centre is not None
    features = np.random.default_rng(10).normal(scale=0.03, size=(5, FEATURES))
    assert np.allclose(model.score(features), (features / model.scale) @ model.centre)
    # Eight draws, not eight copies of the mean: they disagree, and their mean is not it.
    assert model.weights.shape == (8, FEATURES)
    assert float(model.uncertainty(features).min()) > 0
    assert not np.allclose(model.weights.mean(axis=0), model.centre)


def test_the_centre_is_stored_with_the_model_and_read_back() -> None:
    chosen, rejected = _pairs(TWO_THINGS, 30, seed=11)
    fitted = fit_sparse_reward(chosen, rejected, NAMES, RewardModelSettings(), seed=12)
    arrays, metadata = decode(fitted.encoded())
    read = ExportedReward.from_arrays(arrays, metadata, feature_names=NAMES)
    assert read.centre is not None
    assert fitted.model.centre is not None
    assert np.array_equal(read.centre, fitted.model.centre)
    features = np.random.default_rng(13).normal(size=(3, FEATURES))
    assert np.array_equal(read.score(features), fitted.model.score(features))


def test_the_same_preferences_and_seed_fit_the_same_file() -> None:
    chosen, rejected = _pairs(TWO_THINGS, 40, seed=14)
    config = RewardModelSettings()
    first = fit_sparse_reward(chosen, rejected, NAMES, config, seed=15).encoded()
    assert fit_sparse_reward(chosen, rejected, NAMES, config, seed=15).encoded() == first


def test_a_perfumers_first_choices_start_from_every_perfumers_reading() -> None:
    config = RewardModelSettings()
    house = fit_sparse_reward(*_pairs(TWO_THINGS, 60, seed=16), NAMES, config, seed=17)
    assert str(house.readings[0]) == "+share:family:f3 -share:family:f17"
    # Three choices of the same taste: too few to single it out on their own.
    few = _pairs(TWO_THINGS, 3, seed=18)
    alone = fit_sparse_reward(*few, NAMES, config, seed=19)
    started = fit_sparse_reward(
        *few, NAMES, config, seed=19, prior=shared_prior(house, config.dense_mass)
    )
    assert alone.readings[0].probability < 0.2
    assert str(started.readings[0]) == "+share:family:f3 -share:family:f17"
    assert started.readings[0].probability > 0.3
    # A perfumer of another taste overrides the house's once their choices show it.
    other = np.zeros(FEATURES)
    other[[8]] = [60.0]
    own = fit_sparse_reward(
        *_pairs(other, 45, seed=20),
        NAMES,
        config,
        seed=21,
        prior=shared_prior(house, config.dense_mass),
    )
    assert str(own.readings[0]) == "+share:family:f8"

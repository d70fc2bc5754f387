"""A reward model with the prior that a taste is about a few things.

Bayesian model averaging over linear Bradley-Terry models (P(a over b) = sigmoid(r(a) -
r(b)), r linear in the standardised features): every model that uses one feature
("woody") or two ("woody, not sweet"), and one dense model over all of them. Each has a
Gaussian prior N(0, prior_variance) on its weights; its posterior is approximated at its
mode (Laplace), and it is weighted by its evidence (the Laplace approximation of the
marginal likelihood) times its prior mass: `dense_mass` on the dense model, the rest shared
equally between the one-feature and the two-feature models. The evidence's Occam factor
lets the dense model take over only when the choices need more than two features to
explain.

Why not the dense model alone (rl/reward_model.py): 30 choices among four options give
about 90 pairs, correlated three by three, for 94 features; a dense fit spreads the credit
over every feature the chosen edits happened to move, and at 30 choices it ranked edits
barely better than chance (bench/learning.py, docs/learning.md). The taste a perfumer shows
in a session is about a few words, the words the catalogue describes materials in.

What is exported is an ensemble like the dense one's (rl/exported.py) with a centre: the
posterior mean, which ranks edits, and `members` draws from the posterior (a model drawn by
its posterior mass, its weights from its Laplace posterior), each one plausible reading of
the taste, which is what proposals ask about (rl/proposals.py). NumPy only: the API
process refits it after every choice (training/refit.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fragrance_ai.rl.exported import ExportedReward
from fragrance_ai.rl.fitted_reward import FittedReward
from fragrance_ai.rl.materials import Vector
from fragrance_ai.settings import RewardModelSettings

# As the dense model: below this many pairs nothing is held out.
MIN_PAIRS_TO_HOLD_OUT = 10
NEWTON_STEPS = 30
# Readings of the taste kept with a fitted model, most probable first.
READINGS_KEPT = 5
# Features that are shares of the concentrate (families, descriptors, the pyramid's tiers).
SHARE_FEATURES = ("share:", "pyramid:")
# Two-feature models are fitted this many at a time (memory: chunk x pairs).
CHUNK = 512


def _sigmoid(z: Vector) -> Vector:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


@dataclass(frozen=True)
class Posterior:
    """The averaged posterior over the weights of the standardised features."""

    # Per model: the features it uses (one or two; a one-feature model repeats it), its
    # weights at the mode, its 2x2 precision, its posterior mass. The dense model apart.
    supports: npt.NDArray[np.int64]
    modes: Vector
    precisions: Vector
    masses: Vector
    dense_mode: Vector
    dense_covariance: Vector
    dense_mass: float

    @property
    def mean(self) -> Vector:
        single = self.supports[:, 0] == self.supports[:, 1]
        mean = self.dense_mass * self.dense_mode
        np.add.at(mean, self.supports[:, 0], self.masses * self.modes[:, 0])
        np.add.at(mean, self.supports[:, 1], np.where(single, 0.0, self.masses * self.modes[:, 1]))
        return np.asarray(mean)

    def draw(self, rng: np.random.Generator) -> Vector:
        dim = self.dense_mode.size
        masses = np.append(self.masses, self.dense_mass)
        index = int(rng.choice(masses.size, p=masses / masses.sum()))
        if index == masses.size - 1:
            return rng.multivariate_normal(self.dense_mode, self.dense_covariance)
        weights = np.zeros(dim)
        first, second = (int(k) for k in self.supports[index])
        covariance = np.linalg.inv(self.precisions[index])
        drawn = rng.multivariate_normal(self.modes[index], covariance)
        if first == second:
            weights[first] = drawn[0]
        else:
            weights[[first, second]] = drawn
        return weights

    @property
    def model_masses(self) -> Vector:
        """Every model's posterior mass, the dense model's last: another fit's prior."""
        return np.append(self.masses, self.dense_mass)

    @property
    def entropy_bits(self) -> float:
        """How undecided the posterior is between its models (0: one reading holds it all)."""
        return _entropy_bits(self.model_masses)

    def readings(self, names: tuple[str, ...], count: int) -> list[Reading]:
        """The most probable readings of the taste with their posterior mass; the dense model
        is the reading with no terms ("many features")."""
        readings = []
        for index in np.argsort(-self.masses, kind="stable")[:count]:
            first, second = (int(k) for k in self.supports[index])
            terms = [(names[first], 1 if self.modes[index, 0] > 0 else -1)]
            if second != first:
                terms.append((names[second], 1 if self.modes[index, 1] > 0 else -1))
            readings.append(Reading(tuple(terms), float(self.masses[index])))
        readings.append(Reading((), self.dense_mass))
        return sorted(readings, key=lambda reading: -reading.probability)[:count]


@dataclass(frozen=True)
class Reading:
    """One reading of a taste: the features it is about, each liked (+1) or not (-1)."""

    terms: tuple[tuple[str, int], ...]
    probability: float

    def __str__(self) -> str:
        if not self.terms:
            return "many features"
        return " ".join(f"{'+' if sign > 0 else '-'}{name}" for name, sign in self.terms)


def posterior(
    differences: Vector,
    prior_variance: float,
    dense_mass: float,
    prior_masses: Vector | None = None,
    weights: Vector | None = None,
) -> Posterior:
    """`differences`: chosen minus rejected standardised features (pairs x features).
    `prior_masses` (one per model, the dense model's last) replaces the default prior over
    the models: another posterior's, such as every perfumer's for one perfumer's model.
    `weights`: each pair's share of an observation (`choice_weights`); 1 each without."""
    dim = differences.shape[1]
    weights = np.ones(differences.shape[0]) if weights is None else weights
    precision = 1.0 / prior_variance
    first, second = np.triu_indices(dim, 1)
    supports = np.concatenate(
        [np.repeat(np.arange(dim)[:, None], 2, axis=1), np.stack([first, second], axis=1)]
    )
    modes = np.zeros((len(supports), 2))
    precisions = np.zeros((len(supports), 2, 2))
    log_evidence = np.zeros(len(supports))
    for start in range(0, len(supports), CHUNK):
        chunk = slice(start, start + CHUNK)
        modes[chunk], precisions[chunk], log_evidence[chunk] = _two_feature_fits(
            differences, weights, supports[chunk], precision
        )
    dense_mode, dense_precision, dense_evidence = _dense_fit(differences, weights, precision)
    masses_before = default_masses(dim, dense_mass) if prior_masses is None else prior_masses
    logs = np.log(np.maximum(masses_before, 1e-300)) + np.append(log_evidence, dense_evidence)
    masses = np.exp(logs - logs.max())
    masses /= masses.sum()
    return Posterior(
        supports=supports.astype(np.int64),
        modes=modes,
        precisions=precisions,
        masses=masses[:-1],
        dense_mode=dense_mode,
        dense_covariance=np.asarray(np.linalg.inv(dense_precision), dtype=np.float64),
        dense_mass=float(masses[-1]),
    )


def _two_feature_fits(
    differences: Vector, weights: Vector, supports: npt.NDArray[np.intp], precision: float
) -> tuple[Vector, Vector, Vector]:
    """Newton's method on many two-weight logistic regressions at once; a one-feature
    model is one whose second column is zero. Returns the modes, the 2x2 precisions at the
    mode and the log evidence of each."""
    single = supports[:, 0] == supports[:, 1]
    a = differences[:, supports[:, 0]].T  # models x pairs
    b = np.where(single[:, None], 0.0, differences[:, supports[:, 1]].T)
    w = np.zeros((len(supports), 2))
    for _ in range(NEWTON_STEPS):
        p = _sigmoid(w[:, :1] * a + w[:, 1:] * b)
        residual, curvature = weights * (p - 1.0), weights * p * (1.0 - p)
        g0 = (residual * a).sum(axis=1) + precision * w[:, 0]
        g1 = (residual * b).sum(axis=1) + precision * w[:, 1]
        h00 = (curvature * a * a).sum(axis=1) + precision
        h11 = (curvature * b * b).sum(axis=1) + precision
        h01 = (curvature * a * b).sum(axis=1)
        det = h00 * h11 - h01**2
        step0, step1 = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        w[:, 0] -= step0
        w[:, 1] -= step1
        if max(float(np.abs(step0).max()), float(np.abs(step1).max())) < 1e-10:
            break
    z = w[:, :1] * a + w[:, 1:] * b
    p = _sigmoid(z)
    curvature = weights * p * (1.0 - p)
    h00 = (curvature * a * a).sum(axis=1) + precision
    h11 = (curvature * b * b).sum(axis=1) + precision
    h01 = (curvature * a * b).sum(axis=1)
    log_likelihood = -(weights * np.logaddexp(0.0, -z)).sum(axis=1)
    weights_used = np.where(single, 1, 2)
    # log N(w; 0, 1/precision) + (k/2) log 2 pi - (1/2) log det H: the Laplace evidence.
    log_prior = -0.5 * precision * (w**2).sum(axis=1) + 0.5 * weights_used * np.log(precision)
    log_det = np.where(single, np.log(h00), np.log(h00 * h11 - h01**2))
    evidence = log_likelihood + log_prior - 0.5 * log_det
    hessians = np.stack([np.stack([h00, h01], axis=1), np.stack([h01, h11], axis=1)], axis=1)
    # A one-feature model's second weight is fixed at 0: its precision there is the prior's.
    hessians[single, 1, 1] = precision
    return w, hessians, evidence


def _dense_fit(
    differences: Vector, weights: Vector, precision: float
) -> tuple[Vector, Vector, float]:
    dim = differences.shape[1]
    w = np.zeros(dim)
    identity = precision * np.eye(dim)
    for _ in range(NEWTON_STEPS):
        p = _sigmoid(differences @ w)
        gradient = differences.T @ (weights * (p - 1.0)) + precision * w
        hessian = (differences * (weights * p * (1.0 - p))[:, None]).T @ differences + identity
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-10:
            break
    z = differences @ w
    p = _sigmoid(z)
    hessian = (differences * (weights * p * (1.0 - p))[:, None]).T @ differences + identity
    _, log_det = np.linalg.slogdet(hessian)
    evidence = (
        -float((weights * np.logaddexp(0.0, -z)).sum())
        - 0.5 * precision * float(w @ w)
        + 0.5 * dim * np.log(precision)
        - 0.5 * float(log_det)
    )
    return w, hessian, evidence


def fit_sparse_reward(
    chosen: Vector,
    rejected: Vector,
    feature_names: tuple[str, ...],
    config: RewardModelSettings,
    seed: int,
    *,
    choices: npt.NDArray[np.int64] | None = None,
    prior: Vector | None = None,
) -> FittedReward:
    """`chosen[i]` was preferred over `rejected[i]` (pairs x features). The served model is
    fitted on every pair; its held-out accuracy is that of the same fit on the pairs left
    after holding `heldout_share` out, on the held-out ones (a slightly pessimistic
    estimate: at 30 choices every pair counts, so none is kept from the served model).
    `choices`: which choice stored each pair (any ids): a choice among four stores three
    pairs that share its chosen formula, and counts as one observation, not three
    (`choice_weights`); every pair its own observation without. `prior`: another fit's
    `model_masses` to start from (see `shared_prior`)."""
    pairs = chosen.shape[0]
    if pairs == 0:
        raise ValueError("no preferences to fit")
    scale = _scale(chosen - rejected, feature_names, config.share_unit_percent)
    differences = chosen - rejected
    standard = differences / scale
    weights = np.ones(pairs) if choices is None else choice_weights(choices)
    rng = np.random.default_rng(seed)
    heldout = round(pairs * config.heldout_share) if pairs >= MIN_PAIRS_TO_HOLD_OUT else 0
    heldout_accuracy = None
    if heldout:
        order = rng.permutation(pairs)
        test, train = order[:heldout], order[heldout:]
        check = posterior(
            standard[train], config.prior_variance, config.dense_mass, prior, weights[train]
        )
        heldout_accuracy = _accuracy(standard[test] @ check.mean)
    served = posterior(standard, config.prior_variance, config.dense_mass, prior, weights)
    mean = served.mean
    z = standard @ mean
    model = ExportedReward(
        weights=np.stack([served.draw(rng) for _ in range(config.members)]),
        mean=np.zeros(chosen.shape[1]),
        scale=scale,
        feature_names=feature_names,
        centre=mean,
    )
    return FittedReward(
        model=model,
        pairs=pairs,
        train_pairs=pairs,
        heldout_pairs=heldout,
        heldout_accuracy=heldout_accuracy,
        train_accuracy=_accuracy(z),
        train_loss=float(np.logaddexp(0.0, -z).mean()),
        l2=1.0 / config.prior_variance,
        readings=tuple(served.readings(feature_names, READINGS_KEPT)),
        model_masses=served.model_masses,
        entropy_bits=served.entropy_bits,
        prior_entropy_bits=_entropy_bits(
            default_masses(len(feature_names), config.dense_mass) if prior is None else prior
        ),
        choices=pairs if choices is None else int(np.unique(choices).size),
    )


def default_masses(features: int, dense_mass: float) -> Vector:
    """The prior over the models, in `posterior`'s order (one-feature models, two-feature
    models, the dense one): `dense_mass` on the dense model, the rest halved between the
    one-feature and the two-feature models, equally within each."""
    pairs = features * (features - 1) // 2
    sparse = 1.0 - dense_mass
    return np.concatenate(
        [
            np.full(features, sparse / 2 / features),
            np.full(pairs, sparse / 2 / max(pairs, 1)),
            [dense_mass],
        ]
    )


def shared_prior(shared: FittedReward, dense_mass: float) -> Vector | None:
    """The prior for one perfumer's model: half the default prior, half what every
    perfumer's choices taught (their posterior over the readings), so that a perfumer's
    first choices start from the house's taste, and a different taste of their own still
    wins once their choices show it."""
    if shared.model_masses is None:
        return None
    features = len(shared.model.feature_names)
    return np.asarray(0.5 * default_masses(features, dense_mass) + 0.5 * shared.model_masses)


def _entropy_bits(masses: Vector) -> float:
    held = masses[masses > 0]
    return float(-(held * np.log2(held)).sum())


def choice_weights(choices: npt.NDArray[np.int64]) -> Vector:
    """Each pair's weight: 1 over the number of pairs its choice stored. Counted as
    independent, the pairs of one choice claim the evidence of several observations from
    one, and the posterior grows sure of a reading too soon; at 30 choices that made the
    proposals fall short of the taste in 3 runs of 15 that now reach it (docs/learning.md)."""
    _, inverse, counts = np.unique(choices, return_inverse=True, return_counts=True)
    return np.asarray(1.0 / counts[inverse], dtype=np.float64)


def _scale(
    differences: Vector, feature_names: tuple[str, ...], share_unit_percent: float
) -> Vector:
    """What one unit of each feature is before the prior applies. A share of the concentrate
    is in a fixed unit, `share_unit_percent` of it, whatever the choices were about: a
    scale learnt from the offered edits would change the prior as the questions change
    (the questions follow the model), and would make a rarely moved feature, the one a
    taste may hinge on, hard to learn. The others (cost, size, fit to the brief) in the
    spread of the offered edits' changes; a feature never moved in 1, which keeps its
    weight at the prior."""
    spread = np.sqrt((differences**2).mean(axis=0))
    scale = np.where(spread > 1e-9, spread, 1.0)
    shares = np.array([name.startswith(SHARE_FEATURES) for name in feature_names])
    return np.asarray(np.where(shares, share_unit_percent / 100.0, scale))


def _accuracy(margins: Vector) -> float:
    # A tie is half right, as a coin would be.
    return float(np.mean(np.where(margins > 0, 1.0, np.where(margins == 0, 0.5, 0.0))))

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
process refits it after every choice (training/reward_models.py).
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


@dataclass(frozen=True)
class Choices:
    """Preferences grouped by the choice that stored them: `differences[g, k]` is the
    chosen formula's features minus those of the k-th other formula offered with it
    (standardised), `offered[g, k]` False where choice g offered fewer."""

    differences: Vector  # choices x others x features
    offered: npt.NDArray[np.bool_]

    @staticmethod
    def of(differences: Vector, choices: npt.NDArray[np.int64] | None) -> Choices:
        """Pairs with the id of the choice that stored each; without ids, every pair is a
        choice between two."""
        if choices is None:
            return Choices(differences[:, None, :], np.ones((differences.shape[0], 1), bool))
        ids, inverse = np.unique(choices, return_inverse=True)
        others = int(np.bincount(inverse).max())
        grouped = np.zeros((ids.size, others, differences.shape[1]))
        offered = np.zeros((ids.size, others), dtype=bool)
        slot = np.zeros(ids.size, dtype=np.int64)
        for pair, group in enumerate(inverse.tolist()):
            grouped[group, slot[group]] = differences[pair]
            offered[group, slot[group]] = True
            slot[group] += 1
        return Choices(grouped, offered)

    def __len__(self) -> int:
        return int(self.offered.shape[0])

    def subset(self, indices: npt.NDArray[np.int64]) -> Choices:
        return Choices(self.differences[indices], self.offered[indices])


def _choice_probabilities(z: Vector, offered: npt.NDArray[np.bool_]) -> tuple[Vector, Vector]:
    """For margins z (... x choices x others: the chosen one's score minus each other's),
    each other formula's probability of having been chosen instead, and the log-likelihood
    of the choices made (summed over the choices), with the multinomial logit."""
    negative = np.where(offered, -z, -np.inf)
    log_total = np.logaddexp(0.0, np.logaddexp.reduce(negative, axis=-1))
    others = np.exp(negative - log_total[..., None])
    return others, -log_total.sum(axis=-1)


def posterior(
    choices: Choices,
    prior_variance: float,
    dense_mass: float,
    prior_masses: Vector | None = None,
) -> Posterior:
    """The posterior over the models, given the choices (standardised features).
    `prior_masses` (one per model, the dense model's last) replaces the default prior over
    the models: another posterior's, such as every perfumer's for one perfumer's model."""
    dim = choices.differences.shape[2]
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
            choices, supports[chunk], precision
        )
    dense_mode, dense_precision, dense_evidence = _dense_fit(choices, precision)
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
    choices: Choices, supports: npt.NDArray[np.intp], precision: float
) -> tuple[Vector, Vector, Vector]:
    """Newton's method on many two-weight choice models at once; a one-feature model is one
    whose second feature is zero. Returns the modes, the 2x2 precisions at the mode and the
    log evidence of each."""
    single = supports[:, 0] == supports[:, 1]
    # models x choices x others
    a = np.moveaxis(choices.differences[:, :, supports[:, 0]], 2, 0)
    b = np.moveaxis(choices.differences[:, :, supports[:, 1]], 2, 0)
    b = np.where(single[:, None, None], 0.0, b)
    offered = choices.offered[None, :, :]
    w = np.zeros((len(supports), 2))

    def curvature(q: Vector) -> tuple[Vector, Vector, Vector, Vector, Vector]:
        # Per model: the gradient of -log-likelihood and its Hessian, summed over choices:
        # sum_k q d d^T - (sum_k q d)(sum_k q d)^T per choice.
        qa, qb = (q * a).sum(axis=2), (q * b).sum(axis=2)
        h00 = ((q * a * a).sum(axis=2) - qa * qa).sum(axis=1) + precision
        h11 = ((q * b * b).sum(axis=2) - qb * qb).sum(axis=1) + precision
        h01 = ((q * a * b).sum(axis=2) - qa * qb).sum(axis=1)
        return -qa.sum(axis=1), -qb.sum(axis=1), h00, h11, h01

    for _ in range(NEWTON_STEPS):
        q, _ = _choice_probabilities(w[:, :1, None] * a + w[:, 1:, None] * b, offered)
        g0, g1, h00, h11, h01 = curvature(q)
        g0 += precision * w[:, 0]
        g1 += precision * w[:, 1]
        det = h00 * h11 - h01**2
        step0, step1 = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        w[:, 0] -= step0
        w[:, 1] -= step1
        if max(float(np.abs(step0).max()), float(np.abs(step1).max())) < 1e-10:
            break
    q, log_likelihood = _choice_probabilities(w[:, :1, None] * a + w[:, 1:, None] * b, offered)
    _, _, h00, h11, h01 = curvature(q)
    weights_used = np.where(single, 1, 2)
    # log N(w; 0, 1/precision) + (k/2) log 2 pi - (1/2) log det H: the Laplace evidence.
    log_prior = -0.5 * precision * (w**2).sum(axis=1) + 0.5 * weights_used * np.log(precision)
    log_det = np.where(single, np.log(h00), np.log(h00 * h11 - h01**2))
    evidence = log_likelihood + log_prior - 0.5 * log_det
    hessians = np.stack([np.stack([h00, h01], axis=1), np.stack([h01, h11], axis=1)], axis=1)
    # A one-feature model's second weight is fixed at 0: its precision there is the prior's.
    hessians[single, 1, 1] = precision
    return w, hessians, evidence


def _dense_fit(choices: Choices, precision: float) -> tuple[Vector, Vector, float]:
    d, offered = choices.differences, choices.offered
    dim = d.shape[2]
    w = np.zeros(dim)
    identity = precision * np.eye(dim)

    def hessian(q: Vector) -> tuple[Vector, Vector]:
        weighted = d * q[..., None]
        mean = weighted.sum(axis=1)  # choices x features
        return (
            -mean.sum(axis=0),
            np.einsum("gkf,gkh->fh", weighted, d) - mean.T @ mean + identity,
        )

    for _ in range(NEWTON_STEPS):
        q, _ = _choice_probabilities(d @ w, offered)
        gradient, curvature = hessian(q)
        step = np.linalg.solve(curvature, gradient + precision * w)
        w -= step
        if float(np.abs(step).max()) < 1e-10:
            break
    q, log_likelihood = _choice_probabilities(d @ w, offered)
    _, curvature = hessian(q)
    _, log_det = np.linalg.slogdet(curvature)
    evidence = (
        float(log_likelihood)
        - 0.5 * precision * float(w @ w)
        + 0.5 * dim * np.log(precision)
        - 0.5 * float(log_det)
    )
    return w, curvature, evidence


def fit_sparse_reward(
    chosen: Vector,
    rejected: Vector,
    feature_names: tuple[str, ...],
    config: RewardModelSettings,
    seed: int,
    *,
    choices: npt.NDArray[np.int64] | None = None,
    prior: Vector | None = None,
    check: bool = True,
) -> FittedReward:
    """`chosen[i]` was preferred over `rejected[i]` (pairs x features); `choices[i]` is the
    choice that stored the pair (any id). A choice among four is one observation, the
    chosen formula over the three others at once (the multinomial logit), not three
    independent pairs: counted as independent, the pairs of one choice claim three
    observations' evidence and the posterior grows sure of a reading too soon. Without
    `choices`, every pair is a choice between two. The served model is fitted on every
    choice; its held-out accuracy is that of the same fit without `heldout_share` of the
    choices, on their pairs (a slightly pessimistic estimate: at 30 choices every one
    counts, so none is kept from the served model). `prior`: another fit's `model_masses`
    to start from (see `shared_prior`). `check` False skips the held-out fit (the accuracy
    is then None); the served model is the same either way."""
    pairs = chosen.shape[0]
    if pairs == 0:
        raise ValueError("no preferences to fit")
    scale = _scale(chosen - rejected, feature_names, config.share_unit_percent)
    standard = (chosen - rejected) / scale
    grouped = Choices.of(standard, choices)
    rng = np.random.default_rng(seed)
    heldout_accuracy, heldout = None, 0
    held = round(len(grouped) * config.heldout_share) if pairs >= MIN_PAIRS_TO_HOLD_OUT else 0
    if held:
        # Drawn with or without the check, so that the posterior's draws are the same.
        order = rng.permutation(len(grouped))
    if held and check:
        test, train = grouped.subset(order[:held]), grouped.subset(order[held:])
        without = posterior(train, config.prior_variance, config.dense_mass, prior)
        margins = test.differences[test.offered] @ without.mean
        heldout, heldout_accuracy = int(margins.size), _accuracy(margins)
    served = posterior(grouped, config.prior_variance, config.dense_mass, prior)
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
        choices=len(grouped),
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

"""A Bradley-Terry reward model fitted on perfumers' pairwise choices: the dense prior
(rl.reward_model.prior "dense"); "sparse", the default, is rl/sparse_reward.py.

P(a preferred over b) = sigmoid(r(a) - r(b)), with r linear in the standardised formula
features (features.reward_features). Linear on purpose: a few hundred choices fit a few
dozen weights without overfitting, and each weight reads as a taste ("+ woody, - sweet").

An ensemble of `members` models, each fitted on a bootstrap resample of the training pairs,
gives an uncertainty (the members' spread) that proposals use to ask the questions the
model is least sure of. A share of the pairs is held out before any fitting, and the
ensemble's accuracy on them is reported with the model; below 10 pairs nothing is held out
and the accuracy is None, never a number made up from the training pairs.

The L2 penalty is fixed (`l2`) or, with `l2_candidates`, chosen per fit by k-fold
cross-validation over the training pairs: what a few dozen choices support depends on how
many there are and how consistent they are, and the held-out pairs are never looked at.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch

from fragrance_ai.rl.exported import ExportedReward
from fragrance_ai.rl.fitted_reward import FittedReward
from fragrance_ai.rl.materials import Vector
from fragrance_ai.rl.sparse_reward import fit_sparse_reward
from fragrance_ai.settings import RewardModelSettings

MIN_PAIRS_TO_HOLD_OUT = 10
# Cross-validation needs at least this many training pairs per fold.
MIN_PAIRS_PER_FOLD = 2


def fit_reward_model(
    chosen: Vector,
    rejected: Vector,
    feature_names: tuple[str, ...],
    config: RewardModelSettings,
    seed: int,
    *,
    choices: npt.NDArray[np.int64] | None = None,
) -> FittedReward:
    """`chosen[i]` was preferred over `rejected[i]` (pairs x features); `choices[i]`, which
    choice stored the pair (the sparse prior weighs each choice as one observation)."""
    if config.prior == "sparse":
        return fit_sparse_reward(chosen, rejected, feature_names, config, seed, choices=choices)
    pairs = chosen.shape[0]
    if pairs == 0:
        raise ValueError("no preferences to fit")
    rng = np.random.default_rng(seed)
    order = rng.permutation(pairs)
    heldout = round(pairs * config.heldout_share) if pairs >= MIN_PAIRS_TO_HOLD_OUT else 0
    test, train = order[:heldout], order[heldout:]
    everything = np.concatenate([chosen[train], rejected[train]])
    mean = everything.mean(axis=0)
    spread = (
        np.sqrt(((chosen[train] - rejected[train]) ** 2).mean(axis=0))
        if config.standardise == "differences"
        else everything.std(axis=0)
    )
    # A feature that never varies in the data says nothing; scale 1 keeps it at 0.
    scale = np.where(spread > 1e-9, spread, 1.0)
    differences = (chosen - rejected) / scale
    l2 = _cross_validated_l2(differences[train], config, seed)

    members = []
    losses = []
    for member in range(config.members):
        sample = train if config.members == 1 else rng.choice(train, size=train.size)
        weights, loss = _fit_member(differences[sample], config, l2, seed * 1009 + member)
        members.append(weights)
        losses.append(loss)
    model = ExportedReward(
        weights=np.stack(members),
        mean=mean,
        scale=scale,
        feature_names=feature_names,
    )

    def accuracy(indices: np.ndarray) -> float:
        margin = model.score(chosen[indices]) - model.score(rejected[indices])
        # A tie is half right, as a coin would be.
        return float(np.mean(np.where(margin > 0, 1.0, np.where(margin == 0, 0.5, 0.0))))

    return FittedReward(
        model=model,
        pairs=pairs,
        train_pairs=int(train.size),
        heldout_pairs=heldout,
        heldout_accuracy=accuracy(test) if heldout else None,
        train_accuracy=accuracy(train),
        train_loss=float(np.mean(losses)),
        l2=l2,
    )


def _cross_validated_l2(differences: Vector, config: RewardModelSettings, seed: int) -> float:
    """The candidate L2 whose fits on k-1 folds predict the k-th best (mean log-loss over
    every pair, each predicted by the fit that did not see it); `config.l2` without
    candidates or with too few pairs. Every candidate and fold is fitted at once: one
    batch of independent full-batch Adam fits (Adam's steps are per weight)."""
    candidates, folds = config.l2_candidates, config.cv_folds
    pairs = differences.shape[0]
    if not candidates or pairs < folds * MIN_PAIRS_PER_FOLD:
        return config.l2
    fold_of = np.random.default_rng([seed, 0xC5]).permutation(pairs) % folds
    # (candidates x folds) fits x pairs: True where the fit trains on the pair.
    trains = np.tile(fold_of[None, :] != np.arange(folds)[:, None], (len(candidates), 1))
    penalties = np.repeat(np.asarray(candidates, dtype=np.float64), folds)
    x = torch.from_numpy(differences).to(torch.float64)
    mask = torch.from_numpy(trains).to(torch.float64)
    l2 = torch.from_numpy(penalties)
    generator = torch.Generator().manual_seed(seed)
    weights = (
        0.01 * torch.randn(len(penalties), x.shape[1], generator=generator, dtype=torch.float64)
    ).requires_grad_()
    optimizer = torch.optim.Adam([weights], lr=config.learning_rate)
    for _ in range(config.epochs):
        optimizer.zero_grad()
        losses = torch.nn.functional.softplus(-(weights @ x.T))
        fitted = (
            (losses * mask).sum(dim=1) / mask.sum(dim=1)
            + l2 * (weights**2).sum(dim=1)
            + config.l1 * weights.abs().sum(dim=1)
        )
        fitted.sum().backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    with torch.no_grad():
        unseen = (torch.nn.functional.softplus(-(weights @ x.T)) * (1 - mask)).sum(dim=1)
    per_candidate = unseen.numpy().reshape(len(candidates), folds).sum(axis=1) / pairs
    return float(candidates[int(np.argmin(per_candidate))])


def _fit_member(
    differences: Vector, config: RewardModelSettings, l2: float, seed: int
) -> tuple[Vector, float]:
    """Full-batch Adam on the logistic loss of the score differences, with L2 and L1."""
    x = torch.from_numpy(differences).to(torch.float64)
    generator = torch.Generator().manual_seed(seed)
    weights = (
        0.01 * torch.randn(x.shape[1], generator=generator, dtype=torch.float64)
    ).requires_grad_()
    optimizer = torch.optim.Adam([weights], lr=config.learning_rate)
    loss = torch.zeros(())
    for _ in range(config.epochs):
        optimizer.zero_grad()
        loss = (
            torch.nn.functional.softplus(-(x @ weights)).mean()
            + l2 * (weights**2).sum()
            + config.l1 * weights.abs().sum()
        )
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    return weights.detach().numpy().copy(), float(loss.item())

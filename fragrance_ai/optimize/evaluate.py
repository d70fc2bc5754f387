"""Scores a whole population at once: one matrix in, every objective and the compliance
verdict out, with NumPy over the space's precomputed matrices (material x character,
material x substance via the rule book, prices, tiers).

Every objective is a loss in [0, 1] or near it, minimised:

- `brief_fit`: 1 - fit, where fit blends the cosine between the formula's character
  (amount-weighted families and descriptors of its materials) and the brief's target, with
  how fully each named note reaches the level that carries it.
- `pyramid`: the distance of the top/heart/base shares from the brief's pyramid (for its
  intensity, wear and product), as a share of the largest possible distance.
- `cost`: cost per kg of concentrate over the budget (over-budget formulas pay steeply), or
  over a reference price when the brief names no budget.
- `novelty`: 1 - the smallest distance to formulas already made for this brief (the share
  of the formula that differs).

`evaluate_one` computes the same for a single formula with plain Python and the full
compliance engine: the reference the vectorised path is tested and benchmarked against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from fragrance_ai.domain.catalogue import Catalogue, Tier
from fragrance_ai.domain.compliance import Verdict, check_compliance
from fragrance_ai.domain.formula import Formula, FormulaLine
from fragrance_ai.domain.population import COMPLIANT, check_population
from fragrance_ai.optimize.space import TIERS, SearchSpace, Vector

# Without a budget, cost is scored against this price of concentrate.
REFERENCE_COST_EUR_PER_KG = 100.0
# Each unit of (cost / budget) over 1 costs this much more: a budget is meant.
OVER_BUDGET_PENALTY = 3.0
NAMED_NOTE_SHARE_OF_FIT = 0.25


class Objective(StrEnum):
    BRIEF_FIT = "brief_fit"
    PYRAMID = "pyramid"
    COST = "cost"
    NOVELTY = "novelty"


@dataclass(frozen=True)
class Archive:
    """Formulas already made for this brief, as vectors over the space's candidates, with
    the percent each holds outside them."""

    vectors: Vector
    outside: Vector

    @staticmethod
    def empty(space: SearchSpace) -> Archive:
        return Archive(np.zeros((0, space.size)), np.zeros(0))

    @staticmethod
    def of(space: SearchSpace, formulas: list[Formula]) -> Archive:
        if not formulas:
            return Archive.empty(space)
        pairs = [space.vector_of(formula) for formula in formulas]
        return Archive(np.array([v for v, _ in pairs]), np.array([o for _, o in pairs]))


@dataclass(frozen=True)
class Evaluation:
    # Formulas x objectives, in the order asked; infeasible rows already pushed behind
    # every feasible one (constraint domination).
    losses: Vector
    # Raw figures per formula for people: fit and pyramid balance in [0, 1], cost EUR/kg,
    # novelty in [0, 1].
    fit: Vector
    pyramid_balance: Vector
    cost_per_kg_eur: Vector
    novelty: Vector
    feasible: npt.NDArray[np.bool_]
    violation: Vector


def evaluate(
    space: SearchSpace,
    population: Vector,
    objectives: tuple[Objective, ...],
    archive: Archive,
) -> Evaluation:
    fit = _fit(space, population)
    shares = _tier_shares(space, population)
    balance = 1.0 - np.abs(shares - space.tier_targets).sum(axis=1) / 200.0
    cost = population @ space.price_per_kg_eur / 100.0
    novelty = _novelty(population, archive)
    full = np.zeros((population.shape[0], len(space.book.material_cas)))
    full[:, space.book_rows] = population
    verdicts = check_population(full, space.book, space.dosage_percent)
    feasible = verdicts.verdicts == COMPLIANT
    raw = {
        Objective.BRIEF_FIT: 1.0 - fit,
        Objective.PYRAMID: 1.0 - balance,
        Objective.COST: _cost_loss(space, cost),
        Objective.NOVELTY: 1.0 - novelty,
    }
    losses = np.column_stack([raw[objective] for objective in objectives])
    return Evaluation(
        losses=_dominate_infeasible(losses, feasible, verdicts.violation),
        fit=fit,
        pyramid_balance=balance,
        cost_per_kg_eur=cost,
        novelty=novelty,
        feasible=feasible,
        violation=verdicts.violation,
    )


def _fit(space: SearchSpace, population: Vector) -> Vector:
    profile = population @ space.features
    norms = np.linalg.norm(profile, axis=1)
    cosine = np.where(norms > 0, profile @ space.target / np.where(norms > 0, norms, 1.0), 0.0)
    if not space.required.any():
        return np.asarray(cosine)
    named = population[:, space.required] / space.carry[space.required]
    coverage = np.minimum(named, 1.0).mean(axis=1)
    return np.asarray((1 - NAMED_NOTE_SHARE_OF_FIT) * cosine + NAMED_NOTE_SHARE_OF_FIT * coverage)


def _tier_shares(space: SearchSpace, population: Vector) -> Vector:
    return np.column_stack([population[:, pool].sum(axis=1) for pool in space.tier_pools])


def _cost_loss(space: SearchSpace, cost: Vector) -> Vector:
    budget = space.brief.budget_per_kg_eur
    if budget is None:
        return cost / REFERENCE_COST_EUR_PER_KG
    ratio = cost / budget
    return np.asarray(ratio + OVER_BUDGET_PENALTY * np.maximum(ratio - 1.0, 0.0))


def _novelty(population: Vector, archive: Archive) -> Vector:
    if archive.vectors.shape[0] == 0:
        return np.ones(population.shape[0])
    distance = np.abs(population[:, None, :] - archive.vectors[None, :, :]).sum(axis=2)
    # Percent held outside the candidates differs from every candidate vector entirely.
    distance = distance + archive.outside[None, :]
    return np.asarray(np.clip(distance.min(axis=1) / 200.0, 0.0, 1.0))


def _dominate_infeasible(
    losses: Vector, feasible: npt.NDArray[np.bool_], violation: Vector
) -> Vector:
    """Deb's constraint domination as plain losses: every infeasible formula is worse on
    every objective than the worst feasible one, and less violation beats more."""
    if feasible.all():
        return losses
    ranked = losses.copy()
    worst = losses[feasible].max(axis=0) if feasible.any() else losses.max(axis=0)
    ranked[~feasible] = worst + 1.0 + violation[~feasible, None]
    return ranked


# --------------------------------------------------------------- the one-formula reference


@dataclass(frozen=True)
class OneEvaluation:
    fit: float
    pyramid_balance: float
    cost_per_kg_eur: float
    novelty: float
    compliant: bool


def evaluate_one(
    space: SearchSpace, vector: Vector, archive: Archive, catalogue: Catalogue
) -> OneEvaluation:
    """The same scores for one formula, line by line, and the compliance engine's verdict."""
    amounts = [float(a) for a in vector]
    character = [0.0] * len(space.feature_names)
    for index, amount in enumerate(amounts):
        if amount:
            for column, weight in enumerate(space.features[index]):
                character[column] += amount * float(weight)
    length = math.sqrt(sum(value * value for value in character))
    cosine = (
        sum(value * float(t) for value, t in zip(character, space.target, strict=True)) / length
        if length
        else 0.0
    )
    fit = cosine
    named = [i for i in range(space.size) if space.required[i]]
    if named:
        coverage = sum(min(amounts[i] / float(space.carry[i]), 1.0) for i in named) / len(named)
        fit = (1 - NAMED_NOTE_SHARE_OF_FIT) * cosine + NAMED_NOTE_SHARE_OF_FIT * coverage
    shares = dict.fromkeys(TIERS, 0.0)
    for index, amount in enumerate(amounts):
        shares[TIERS[int(space.tier_index[index])]] += amount
    gap = sum(abs(shares[t] - float(space.tier_targets[p])) for p, t in enumerate(TIERS))
    cost = sum(a * float(p) for a, p in zip(amounts, space.price_per_kg_eur, strict=True)) / 100
    novelty = 1.0
    for row, outside in zip(archive.vectors, archive.outside, strict=True):
        distance = sum(abs(a - float(b)) for a, b in zip(amounts, row, strict=True)) + outside
        novelty = min(novelty, distance / 200.0)
    formula = to_formula(space, vector)
    verdict = check_compliance(formula, catalogue).verdict
    return OneEvaluation(
        fit=fit,
        pyramid_balance=1.0 - gap / 200.0,
        cost_per_kg_eur=cost,
        novelty=max(novelty, 0.0),
        compliant=verdict is Verdict.COMPLIANT,
    )


def to_formula(space: SearchSpace, vector: Vector) -> Formula:
    """A vector as a formula, lines ordered top to base and largest first."""
    order = sorted(
        np.flatnonzero(vector > 0),
        key=lambda i: (int(space.tier_index[i]), -float(vector[i])),
    )
    lines = [
        FormulaLine(
            cas=space.materials[i].cas,
            name=space.materials[i].name,
            tier=Tier(space.materials[i].tier),
            percent=float(vector[i]),
        )
        for i in order
    ]
    return Formula(lines=lines, product=space.brief.product, dosage_percent=space.dosage_percent)

"""Scores a whole population at once: one matrix in, every objective and the compliance
verdict out, with NumPy over the space's precomputed matrices (material x character,
material x substance via the rule book, prices, tiers).

Every objective is a loss in [0, 1] or near it, minimised:

- `brief_fit`: 1 - fit, where fit blends the cosine between the formula's character and the
  brief's target, how fully each named note and each key group of the structure's accord
  reaches the dose that carries it, and how well the formula keeps its genre's base and musk
  ranges. A material's share of the character is its odour impact, not its percent: it grows
  with its amount over its strength's carrying dose and saturates (1 - exp(-amount / carry)),
  so 1 % of isobutyl quinoline speaks as loudly as 20 % of Hedione.
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
# How much of the fit is the genre's shape (base and musk shares within their ranges).
STRUCTURE_SHARE_OF_FIT = 0.15
# Sums of the same shares in another order differ in the last bits: a limit is met within this.
_LIMIT_TOLERANCE = 1e-9
# Percentage points outside a range at which the structure score reaches 0.
STRUCTURE_SLACK_POINTS = 20.0


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
    # Compliant by the rule book, whether or not the perfumery limits hold.
    compliant: npt.NDArray[np.bool_]


def evaluate(
    space: SearchSpace,
    population: Vector,
    objectives: tuple[Objective, ...],
    archive: Archive,
) -> Evaluation:
    shares = _tier_shares(space, population)
    fit = _fit(space, population, shares)
    balance = 1.0 - np.abs(shares - space.tier_targets).sum(axis=1) / 200.0
    cost = population @ space.price_per_kg_eur / 100.0
    novelty = _novelty(population, archive)
    full = np.zeros((population.shape[0], len(space.book.material_cas)))
    full[:, space.book_rows] = population
    verdicts = check_population(full, space.book, space.dosage_percent)
    # Crystalline materials beyond what the product base dissolves: a hard constraint, ranked
    # with compliance (a formula that will not dissolve cannot be weighed out).
    undissolved = np.maximum(
        population @ space.crystalline - space.product_base.crystalline_cap_percent, 0.0
    )
    # The genre's base and musk ranges, and the product's cost ceiling, are limits too.
    outside = _outside_structure(space, population, shares)
    over_cost = (
        np.maximum(cost - space.hard_cost_ceiling_eur_per_kg, 0.0)
        if space.hard_cost_ceiling_eur_per_kg is not None
        else np.zeros(population.shape[0])
    )
    feasible = (
        (verdicts.verdicts == COMPLIANT)
        & (undissolved <= _LIMIT_TOLERANCE)
        & (outside <= _LIMIT_TOLERANCE)
        & (over_cost <= _LIMIT_TOLERANCE)
    )
    violation = verdicts.violation + (undissolved + outside) / 100.0 + over_cost / 1000.0
    raw = {
        Objective.BRIEF_FIT: 1.0 - fit,
        Objective.PYRAMID: 1.0 - balance,
        Objective.COST: _cost_loss(space, cost),
        Objective.NOVELTY: 1.0 - novelty,
    }
    losses = np.column_stack([raw[objective] for objective in objectives])
    return Evaluation(
        losses=_dominate_infeasible(losses, feasible, violation),
        fit=fit,
        pyramid_balance=balance,
        cost_per_kg_eur=cost,
        novelty=novelty,
        feasible=feasible,
        violation=violation,
        compliant=verdicts.verdicts == COMPLIANT,
    )


def impact(space: SearchSpace, population: Vector) -> Vector:
    """Each material's share of its full character at its amount, in [0, 1)."""
    return np.asarray(1.0 - np.exp(-population / space.carry_percent))


def _fit(space: SearchSpace, population: Vector, shares: Vector) -> Vector:
    profile = impact(space, population) @ space.features
    norms = np.linalg.norm(profile, axis=1)
    cosine = np.where(norms > 0, profile @ space.target / np.where(norms > 0, norms, 1.0), 0.0)
    structure = _structure_score(space, population, shares)
    carried = _carried(space, population)
    character_share = 1.0 - STRUCTURE_SHARE_OF_FIT
    if carried is None:
        return np.asarray(character_share * cosine + STRUCTURE_SHARE_OF_FIT * structure)
    return np.asarray(
        (character_share - NAMED_NOTE_SHARE_OF_FIT) * cosine
        + NAMED_NOTE_SHARE_OF_FIT * carried
        + STRUCTURE_SHARE_OF_FIT * structure
    )


def _carried(space: SearchSpace, population: Vector) -> Vector | None:
    """How fully, on average, each named note and each key group of the accord reaches the
    dose that carries it (a group by its best-carried member); None when there is none."""
    dose = np.minimum(population / space.carry, 1.0)
    terms = [dose[:, space.required]] if space.required.any() else []
    terms += [dose[:, group].max(axis=1, keepdims=True) for group in space.key_groups]
    if not terms:
        return None
    return np.asarray(np.hstack(terms).mean(axis=1))


def _structure_score(space: SearchSpace, population: Vector, shares: Vector) -> Vector:
    """1 inside the genre's base and musk ranges, falling to 0 at STRUCTURE_SLACK_POINTS
    outside them (added over both)."""
    outside = _outside_structure(space, population, shares)
    return np.asarray(np.clip(1.0 - outside / STRUCTURE_SLACK_POINTS, 0.0, 1.0))


def _outside_structure(space: SearchSpace, population: Vector, shares: Vector) -> Vector:
    """Percentage points by which the base tier and the musks fall outside the genre's ranges
    (a leave-on product's musk floor included), added over both."""
    base_low, base_high = space.structure.base_percent
    musk_low, musk_high = space.structure.musk_percent
    musk_low = max(musk_low, space.product_base.leave_on_musk_percent)
    base = shares[:, TIERS.index(Tier.BASE)]
    musk = population @ space.musk
    return np.asarray(
        np.maximum(base_low - base, 0.0)
        + np.maximum(base - base_high, 0.0)
        + np.maximum(musk_low - musk, 0.0)
        + np.maximum(musk - musk_high, 0.0)
    )


def _tier_shares(space: SearchSpace, population: Vector) -> Vector:
    return np.column_stack([population[:, pool].sum(axis=1) for pool in space.tier_pools])


def _cost_loss(space: SearchSpace, cost: Vector) -> Vector:
    budget = space.cost_ceiling_eur_per_kg
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
            share = 1.0 - math.exp(-amount / float(space.carry_percent[index]))
            for column, weight in enumerate(space.features[index]):
                character[column] += share * float(weight)
    length = math.sqrt(sum(value * value for value in character))
    cosine = (
        sum(value * float(t) for value, t in zip(character, space.target, strict=True)) / length
        if length
        else 0.0
    )
    dose = [min(amounts[i] / float(space.carry[i]), 1.0) for i in range(space.size)]
    terms = [dose[i] for i in range(space.size) if space.required[i]]
    terms += [max(dose[int(i)] for i in group) for group in space.key_groups]
    base_share = sum(
        a for i, a in enumerate(amounts) if TIERS[int(space.tier_index[i])] == Tier.BASE
    )
    musk = sum(a for i, a in enumerate(amounts) if space.musk[i])
    base_low, base_high = space.structure.base_percent
    musk_low, musk_high = space.structure.musk_percent
    musk_low = max(musk_low, space.product_base.leave_on_musk_percent)
    off_structure = (
        max(base_low - base_share, 0.0)
        + max(base_share - base_high, 0.0)
        + max(musk_low - musk, 0.0)
        + max(musk - musk_high, 0.0)
    )
    structure = min(max(1.0 - off_structure / STRUCTURE_SLACK_POINTS, 0.0), 1.0)
    character_share = 1.0 - STRUCTURE_SHARE_OF_FIT
    if terms:
        fit = (
            (character_share - NAMED_NOTE_SHARE_OF_FIT) * cosine
            + NAMED_NOTE_SHARE_OF_FIT * sum(terms) / len(terms)
            + STRUCTURE_SHARE_OF_FIT * structure
        )
    else:
        fit = character_share * cosine + STRUCTURE_SHARE_OF_FIT * structure
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
    crystalline = sum(a for i, a in enumerate(amounts) if space.crystalline[i])
    dissolves = crystalline <= space.product_base.crystalline_cap_percent + _LIMIT_TOLERANCE
    ceiling = space.hard_cost_ceiling_eur_per_kg
    within_limits = (
        dissolves
        and off_structure <= _LIMIT_TOLERANCE
        and (ceiling is None or cost <= ceiling + _LIMIT_TOLERANCE)
    )
    return OneEvaluation(
        fit=fit,
        pyramid_balance=1.0 - gap / 200.0,
        cost_per_kg_eur=cost,
        novelty=max(novelty, 0.0),
        compliant=verdict is Verdict.COMPLIANT and within_limits,
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

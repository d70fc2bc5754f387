"""Building and varying formulas inside the search space's bounds.

A new formula and every mutation end with `settle` (crossover does not: its children are
always mutated next, and settling twice would only cost time), which puts a vector back
inside the hard constraints: named materials present at or above the bottom of their
range, every present material in its range, each tier represented, the number of materials
within bounds, and a total of exactly 100. Compliance is not settled here: the evaluation
judges it for the whole population at once and constraint domination ranks what fails.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fragrance_ai.optimize.space import SearchSpace, Vector

# Materials per tier in a fresh random formula (inclusive bounds).
RANDOM_TIER_SIZES = (3, 6)
_EPSILON = 1e-9
_SETTLE_ROUNDS = 30
CARRY_MARGIN = 1.03


def random_formula(space: SearchSpace, rng: np.random.Generator) -> Vector:
    """A random formula on the brief's structure: one material of each key group of the accord
    at one to three times the dose that carries it, musks within the genre's range, then per
    tier materials drawn with probability growing with their affinity to the brief, amounts
    inside their ranges, each tier scaled to the structure's pyramid."""
    vector = np.zeros(space.size)
    keys = np.zeros(space.size, dtype=bool)
    for group in space.key_groups:
        if vector[group].any():
            continue
        index = int(rng.choice(group, p=_weights(space, group)))
        vector[index] = _carrying_dose(space, index, rng)
        keys[index] = True
    for tier_position, pool in enumerate(space.tier_pools):
        if pool.size == 0:
            continue
        count = min(int(rng.integers(RANDOM_TIER_SIZES[0], RANDOM_TIER_SIZES[1] + 1)), pool.size)
        chosen = rng.choice(pool, size=count, replace=False, p=_weights(space, pool))
        chosen = chosen[~keys[chosen]]
        vector[chosen] = rng.uniform(space.low[chosen], space.high[chosen])
        fixed = vector[pool[keys[pool]]].sum()
        share = vector[chosen].sum()
        if share > 0:
            vector[chosen] *= max(space.tier_targets[tier_position] - fixed, 0.0) / share
    _add_musk(vector, space, rng)
    return settle(vector, space, rng)


def _carrying_dose(space: SearchSpace, index: int, rng: np.random.Generator) -> float:
    dose = space.carry_percent[index] * rng.uniform(1.0, 3.0)
    return float(np.clip(dose, space.low[index], space.high[index]))


def _add_musk(vector: Vector, space: SearchSpace, rng: np.random.Generator) -> None:
    """Musks up to a random level inside the genre's musk range, when it asks for any."""
    low, high = space.structure.musk_percent
    low = max(low, space.product_base.leave_on_musk_percent)
    pool = np.flatnonzero(space.musk)
    if low <= 0 or pool.size == 0:
        return
    wanted = rng.uniform(low, max(low, (low + high) / 2))
    have = float(vector[pool].sum())
    if have >= wanted:
        return
    index = int(rng.choice(pool, p=_weights(space, pool)))
    vector[index] = float(
        np.clip(vector[index] + wanted - have, space.low[index], space.high[index])
    )


def crossover(
    first: Vector, second: Vector, space: SearchSpace, rng: np.random.Generator
) -> tuple[Vector, Vector]:
    """Tier-wise: each child takes every tier whole from one parent or the other, so a top
    that works stays a top that works. The children are not settled: `mutate` does that."""
    one, two = first.copy(), second.copy()
    for pool in space.tier_pools:
        if rng.random() < 0.5:
            one[pool], two[pool] = second[pool], first[pool]
    return one, two


def mutate(vector: Vector, space: SearchSpace, rng: np.random.Generator, steps: int) -> Vector:
    """`steps` random edits, each one of: raise or lower a material, swap it for a neighbour
    of the same tier and family, add a material, remove one."""
    mutated = vector.copy()
    for _ in range(steps):
        present = np.flatnonzero(mutated > 0)
        optional = present[~space.required[present]]
        absent = np.flatnonzero(mutated == 0)
        edit = rng.integers(5)
        if edit == 0 and present.size:
            index = rng.choice(present)
            mutated[index] *= rng.uniform(1.2, 1.8)
        elif edit == 1 and present.size:
            index = rng.choice(present)
            mutated[index] *= rng.uniform(0.4, 0.8)
        elif edit == 2 and optional.size:
            index = int(rng.choice(optional))
            options = [n for n in space.neighbours[index] if mutated[n] == 0]
            if options:
                replacement = int(rng.choice(options))
                mutated[replacement] = float(
                    np.clip(mutated[index], space.low[replacement], space.high[replacement])
                )
                mutated[index] = 0.0
        elif edit == 3 and absent.size:
            index = rng.choice(absent, p=_weights(space, absent))
            mutated[index] = rng.uniform(space.low[index], space.high[index])
        elif edit == 4 and optional.size:
            mutated[rng.choice(optional)] = 0.0
    _cheapen(mutated, space, rng)
    return settle(mutated, space, rng)


def _cheapen(vector: Vector, space: SearchSpace, rng: np.random.Generator) -> None:
    """Over the cost the formula may not pass, one directed edit: a material that weighs
    heavily on the cost (drawn by its share of it) gives way to a cheaper neighbour, or, with
    none, is halved. Random edits alone rarely find the few formulas under a functional
    product's tight ceiling (18 EUR/kg for a detergent) once named and key materials hold
    part of it. Named and key materials stay."""
    ceiling = space.hard_cost_ceiling_eur_per_kg
    total = float(vector.sum())
    if ceiling is None or total <= 0:
        return
    spend = vector * space.price_per_kg_eur / total
    if spend.sum() <= ceiling:
        return
    movable = np.flatnonzero((vector > 0) & ~space.shared_by_design)
    if movable.size == 0:
        return
    weights = spend[movable] / spend[movable].sum()
    index = int(rng.choice(movable, p=weights))
    cheaper = [
        n
        for n in space.neighbours[index]
        if vector[n] == 0 and space.price_per_kg_eur[n] < space.price_per_kg_eur[index]
    ]
    if cheaper:
        replacement = int(cheaper[int(np.argmin(space.price_per_kg_eur[cheaper]))])
        vector[replacement] = float(
            np.clip(vector[index], space.low[replacement], space.high[replacement])
        )
        vector[index] = 0.0
    else:
        vector[index] *= 0.5


def settle(vector: Vector, space: SearchSpace, rng: np.random.Generator) -> Vector:
    settled = np.where(vector > _EPSILON, vector, 0.0)
    settled[space.required] = np.maximum(settled[space.required], space.low[space.required])
    present = settled > 0
    settled[present] = np.clip(settled[present], space.low[present], space.high[present])
    floor = _carry_keys(settled, space)
    _fix_tiers(settled, space, rng)
    _fix_count(settled, space, rng)
    _fix_capacity(settled, space, rng)
    return _fill_to_total(settled, space, floor)


def _carry_keys(vector: Vector, space: SearchSpace) -> Vector:
    """Every key group of the accord carried by one of its materials: the one already loudest
    (or, when none is present, the one closest to the brief) is raised to the dose that
    carries it. Returns the lower bounds the total must then respect."""
    floor = space.low.copy()
    for group in space.key_groups:
        ratio = vector[group] / space.carry[group]
        if ratio.max() >= 1.0:
            continue
        if vector[group].any():
            index = int(group[int(np.argmax(ratio))])
        else:
            index = int(group[int(np.argmax(space.affinity[group]))])
        # A little over the carrying dose, so rounding to hundredths and the final scaling
        # to 100 % leave it carried.
        dose = min(float(space.carry[index]) * CARRY_MARGIN, float(space.high[index]))
        vector[index] = max(float(vector[index]), dose)
        floor[index] = max(float(floor[index]), dose)
    return floor


def _weights(space: SearchSpace, pool: npt.NDArray[np.int64]) -> Vector:
    # Every candidate keeps a chance: the search must be able to surprise.
    weights: Vector = space.affinity[pool] + 0.05
    normalised: Vector = weights / weights.sum()
    return normalised


def _add_one(
    vector: Vector,
    space: SearchSpace,
    rng: np.random.Generator,
    pool: npt.NDArray[np.int64],
    *,
    for_room: bool = False,
) -> bool:
    pool = pool[vector[pool] == 0]
    if pool.size == 0:
        return False
    weights = _weights(space, pool)
    if for_room:
        # Short of room to reach 100 %: prefer materials that can take a large share.
        weights = weights * space.high[pool]
        weights /= weights.sum()
    index = rng.choice(pool, p=weights)
    vector[index] = space.low[index]
    return True


def _fix_tiers(vector: Vector, space: SearchSpace, rng: np.random.Generator) -> None:
    for pool in space.tier_pools:
        if pool.size and not vector[pool].any():
            _add_one(vector, space, rng, pool)


def _fix_count(vector: Vector, space: SearchSpace, rng: np.random.Generator) -> None:
    everything = np.arange(space.size)
    while np.count_nonzero(vector) < space.min_materials:
        if not _add_one(vector, space, rng, everything):
            break
    while np.count_nonzero(vector) > space.max_materials:
        # Drop the smallest optional line whose tier keeps another material.
        present = np.flatnonzero(vector > 0)
        droppable = [
            index
            for index in present[np.argsort(vector[present])]
            if not space.required[index]
            and np.count_nonzero(vector[space.tier_pools[space.tier_index[index]]]) > 1
        ]
        if not droppable:
            break
        vector[droppable[0]] = 0.0


def _fix_capacity(vector: Vector, space: SearchSpace, rng: np.random.Generator) -> None:
    """Enough room to reach 100 % within the ranges, and minimums that leave room."""
    everything = np.arange(space.size)
    while space.high[vector > 0].sum() < 100:
        if np.count_nonzero(vector) < space.max_materials:
            if not _add_one(vector, space, rng, everything, for_room=True):
                break
            continue
        # At the most materials allowed: trade the optional line with the least room for
        # an absent material with more.
        optional = np.flatnonzero((vector > 0) & ~space.required)
        absent = np.flatnonzero(vector == 0)
        if optional.size == 0 or absent.size == 0:
            break
        smallest = optional[np.argmin(space.high[optional])]
        roomiest = absent[np.argmax(space.high[absent])]
        if space.high[roomiest] <= space.high[smallest]:
            break
        vector[smallest] = 0.0
        vector[roomiest] = space.low[roomiest]
    while space.low[vector > 0].sum() > 100:
        optional = np.flatnonzero((vector > 0) & ~space.required)
        if optional.size == 0:
            break
        vector[optional[np.argmax(space.low[optional])]] = 0.0


def _fill_to_total(vector: Vector, space: SearchSpace, floor: Vector | None = None) -> Vector:
    """Scale the present materials to a total of 100, pinning those that reach a bound and
    rescaling the rest (water-filling). Where the ranges cannot make exactly 100 the
    proportions win over the ranges: a formula always sums to 100."""
    low = space.low if floor is None else floor
    present = vector > 0
    pinned = np.zeros_like(present)
    for _ in range(_SETTLE_ROUNDS):
        free = present & ~pinned
        room = 100.0 - vector[pinned].sum()
        free_total = vector[free].sum()
        if free_total <= 0:
            break
        vector[free] *= room / free_total
        over = free & (vector > space.high + _EPSILON)
        under = free & (vector < low - _EPSILON)
        if not over.any() and not under.any():
            break
        vector[over] = space.high[over]
        vector[under] = low[under]
        pinned |= over | under
    total = vector.sum()
    if total > 0 and abs(total - 100.0) > 1e-6:
        vector *= 100.0 / total
    return vector

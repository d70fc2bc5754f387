"""An option's olfactive idea, as far as the numbers can say it: the materials that speak
loudest in the formula (highest dose over the dose that carries them). Two options that share
their loudest materials are one idea in two proportions, not two choices."""

from __future__ import annotations

import numpy as np

from fragrance_ai.optimize.space import SearchSpace, Vector

IDEA_SIZE = 3
# Two formulas share an idea when their loudest three overlap in more than one material.
MAX_SHARED_IDEA_MATERIALS = 1

Idea = frozenset[int]


def idea_of(space: SearchSpace, genome: Vector) -> Idea:
    loudness = genome / space.carry_percent
    present = np.flatnonzero(genome > 0)
    loudest = present[np.argsort(-loudness[present], kind="stable")][:IDEA_SIZE]
    return frozenset(int(i) for i in loudest)


def same_idea(first: Idea, second: Idea) -> bool:
    return len(first & second) > MAX_SHARED_IDEA_MATERIALS

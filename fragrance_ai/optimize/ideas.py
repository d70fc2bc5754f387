"""An option's olfactive idea, as far as the numbers can say it: the materials that speak
loudest in the formula (highest dose over the dose that carries them), leaving out what every
option of the brief holds by design (its named notes and the key materials of its accord).
Two options that share their loudest materials are one idea in two proportions, not two
choices."""

from __future__ import annotations

import numpy as np

from fragrance_ai.optimize.space import SearchSpace, Vector

IDEA_SIZE = 3
# Two formulas share an idea when their loudest three overlap in more than one material.
MAX_SHARED_IDEA_MATERIALS = 1

Idea = frozenset[int]


def idea_of(space: SearchSpace, genome: Vector) -> Idea:
    loudness = genome / space.carry_percent
    present = np.flatnonzero((genome > 0) & ~space.shared_by_design)
    # Loudest first; equally loud materials (at the same cap) by name, so the idea does not
    # depend on the order of the catalogue.
    ranked = sorted(present, key=lambda i: (-round(float(loudness[i]), 6), space.materials[i].name))
    return frozenset(int(i) for i in ranked[:IDEA_SIZE])


def same_idea(first: Idea, second: Idea) -> bool:
    return len(first & second) > MAX_SHARED_IDEA_MATERIALS

"""An option's olfactive idea, as far as the numbers can say it: the materials that speak
loudest in the formula (highest dose over the dose that carries them), leaving out what every
option of the brief holds by design (its named notes and the key materials of its accord).
Two options that share their loudest materials are one idea in two proportions, not two
choices."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fragrance_ai.optimize.space import SearchSpace, Vector

IDEA_SIZE = 3
# Two formulas share an idea when their loudest three overlap in more than one material.
MAX_SHARED_IDEA_MATERIALS = 1

# ("all" | "free", candidate index): see idea_of.
Idea = frozenset[tuple[str, int]]


def idea_of(space: SearchSpace, genome: Vector) -> Idea:
    """The formula's loudest materials twice over: among all but its named notes, and among
    all but its named notes and key materials. Which materials count as 'there by design'
    is a judgement; an idea that differs both ways differs however one judges it."""
    loudness = genome / space.carry_percent
    present = genome > 0
    return frozenset(
        {
            *(("all", i) for i in _loudest(space, loudness, present & ~space.required)),
            *(("free", i) for i in _loudest(space, loudness, present & ~space.shared_by_design)),
        }
    )


def _loudest(space: SearchSpace, loudness: Vector, among: npt.NDArray[np.bool_]) -> list[int]:
    # Loudest first; equally loud materials (at the same cap) by name, so the idea does not
    # depend on the order of the catalogue.
    ranked = sorted(
        (int(i) for i in np.flatnonzero(among)),
        key=lambda i: (-round(float(loudness[i]), 6), space.materials[i].name),
    )
    return ranked[:IDEA_SIZE]


def same_idea(first: Idea, second: Idea) -> bool:
    return any(
        len({i for k, i in first if k == kind} & {i for k, i in second if k == kind})
        > MAX_SHARED_IDEA_MATERIALS
        for kind in ("all", "free")
    )

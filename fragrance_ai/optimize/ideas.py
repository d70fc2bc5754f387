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
# Two formulas share an idea when the loudest three of either overlap the loudest four of the
# other in more than one material: the fourth counts because a material one option holds
# third and the other fourth is still what both smell of.
MAX_SHARED_IDEA_MATERIALS = 1
RUNNER_UP = IDEA_SIZE + 1
VIEWS = ("all", "accord", "free", "plain")

# (view, place among the loudest (0 = loudest), candidate index): see idea_of.
Idea = frozenset[tuple[str, int, int]]


def idea_of(space: SearchSpace, genome: Vector) -> Idea:
    """The formula's loudest materials four times over, leaving out ever more of what every
    option may hold by design: its named notes; those in any quality and the structure's key
    materials; those and the keys an evocation brings; all that and what the reading
    suggests. Which materials count as 'there by design' is a judgement; an idea that
    differs every way differs however one judges it."""
    loudness = genome / space.carry_percent
    present = genome > 0
    among = {
        "all": present & ~space.required,
        "accord": present & ~(space.named_quality | space.structure_keyed),
        "free": present & ~space.shared_by_design,
        "plain": present & ~(space.shared_by_design | space.suggested),
    }
    return frozenset(
        (view, place, i)
        for view in VIEWS
        for place, i in enumerate(_loudest(space, loudness, among[view]))
    )


def _loudest(space: SearchSpace, loudness: Vector, among: npt.NDArray[np.bool_]) -> list[int]:
    # Loudest first; equally loud materials (at the same cap) by name, so the idea does not
    # depend on the order of the catalogue.
    ranked = sorted(
        (int(i) for i in np.flatnonzero(among)),
        key=lambda i: (-round(float(loudness[i]), 6), space.materials[i].name),
    )
    return ranked[:RUNNER_UP]


def same_idea(first: Idea, second: Idea, *, strict: bool = True) -> bool:
    """Strict: the loudest three of either against the loudest four of the other. Not strict:
    three against three, the looser test options fall back on when the search holds too few
    ideas that differ strictly (a cheap functional product has few materials to speak with)."""

    def loudest(idea: Idea, view: str, size: int) -> set[int]:
        return {i for v, place, i in idea if v == view and place < size}

    against = RUNNER_UP if strict else IDEA_SIZE
    return any(
        len(loudest(one, view, IDEA_SIZE) & loudest(other, view, against))
        > MAX_SHARED_IDEA_MATERIALS
        for view in VIEWS
        for one, other in ((first, second), (second, first))
    )

"""An option's olfactive idea, as far as the numbers can say it: the materials that speak
loudest in the formula (highest dose over the dose that carries them), leaving out what every
option of the brief holds by design (its named notes and the key materials of its accord).
Two options that share their loudest materials are one idea in two proportions, not two
choices."""

from __future__ import annotations

import numpy as np

from fragrance_ai.optimize.space import SearchSpace, Vector

IDEA_SIZE = 3
# Two formulas share an idea when the loudest three of either overlap the loudest four of the
# other in more than one material: the fourth counts because a material one option holds
# third and the other fourth is still what both smell of.
MAX_SHARED_IDEA_MATERIALS = 1
RUNNER_UP = IDEA_SIZE + 1
VIEWS = ("all", "accord", "free", "plain")

# Per view (in VIEWS order), the candidate indices of the loudest materials, loudest first:
# see idea_of. Tuples, because options are compared thousands of times a design.
Idea = tuple[tuple[int, ...], ...]


def idea_of(space: SearchSpace, genome: Vector) -> Idea:
    """The formula's loudest materials four times over, leaving out ever more of what every
    option may hold by design: its named notes; those in any quality and the structure's key
    materials; those and the keys an evocation brings; all that and what the reading
    suggests. Which materials count as 'there by design' is a judgement; an idea that
    differs every way differs however one judges it."""
    present = np.flatnonzero(genome > 0)
    # Loudest first; equally loud materials (at the same cap) by name, so the idea does not
    # depend on the order of the catalogue.
    loudness = np.round(genome[present] / space.carry_percent[present], 6)
    ranked = present[np.lexsort((space.name_rank[present], -loudness))].tolist()
    return tuple(
        tuple([i for i in ranked if not left_out[i]][:RUNNER_UP])
        for left_out in space.left_out_of_idea
    )


def same_idea(first: Idea, second: Idea, *, strict: bool = True) -> bool:
    """Strict: the loudest three of either against the loudest four of the other. Not strict:
    three against three, the looser test options fall back on when the search holds too few
    ideas that differ strictly (a cheap functional product has few materials to speak with)."""

    against = RUNNER_UP if strict else IDEA_SIZE
    for one_view, other_view in zip(first, second, strict=True):
        for one, other in ((one_view, other_view), (other_view, one_view)):
            shared = sum(1 for i in one[:IDEA_SIZE] if i in other[:against])
            if shared > MAX_SHARED_IDEA_MATERIALS:
                return True
    return False

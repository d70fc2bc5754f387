"""What the policy and the reward model see of a formula, as arrays for many at once.

- The formula's character: the share of the concentrate in materials of each family and
  with each common descriptor (what it smells of, in the words a perfumer and the
  catalogue use: "12 % woody, 3 % sweet"), its pyramid, cost per kg and number of
  materials.
- Against its brief: the families the brief asks for (directly, or through its moods,
  seasons and named notes), how well the formula fits them, and how close its pyramid is to
  the one the brief calls for. A formula without a brief has a zero target and fit.

The reward model scores a formula from the first group and the two fit figures; the policy
also sees the brief's target itself, so it knows which way "better for this brief" lies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.designer import bias_families, tier_targets
from fragrance_ai.domain.families import canonical_family
from fragrance_ai.rl.materials import TIERS, MaterialTable, Vector

BRIEF_FAMILY_WEIGHT = 1.0
SUGGESTED_FAMILY_WEIGHT = 0.5
# Scales that bring every feature near [0, 1].
COST_SCALE_EUR_PER_KG = 100.0
LINES_SCALE = 25.0
# Without a brief, the pyramid is judged against a moderate one.
NEUTRAL_TIERS = (25.0, 40.0, 35.0)


@dataclass(frozen=True)
class BriefContext:
    """A brief as the learning code needs it."""

    family_target: Vector
    # Percent of the concentrate per tier, top to base.
    tier_targets: Vector
    # Materials the brief names: the policy never removes or swaps them away.
    protected: npt.NDArray[np.bool_]

    @staticmethod
    def none(table: MaterialTable) -> BriefContext:
        return BriefContext(
            family_target=np.zeros(len(table.families)),
            tier_targets=np.array(NEUTRAL_TIERS),
            protected=np.zeros(table.size, dtype=bool),
        )

    @staticmethod
    def of(table: MaterialTable, brief: CreativeBrief | None) -> BriefContext:
        if brief is None:
            return BriefContext.none(table)
        target = np.zeros(len(table.families))
        column = {family: index for index, family in enumerate(table.families)}
        suggested = set(bias_families(brief))
        protected = np.zeros(table.size, dtype=bool)
        for note in brief.notes:
            material = table.catalogue.find(note)
            if material is not None:
                protected[table.row_of[material.cas]] = True
                suggested.update(canonical_family(f) for f in material.families)
        for family in suggested:
            if family in column:
                target[column[family]] += SUGGESTED_FAMILY_WEIGHT
        for family in brief.families:
            canonical = canonical_family(family)
            if canonical in column:
                target[column[canonical]] += BRIEF_FAMILY_WEIGHT
        norm = float(np.linalg.norm(target))
        tiers = tier_targets(brief)
        return BriefContext(
            family_target=target / norm if norm > 0 else target,
            tier_targets=np.array([tiers[tier] for tier in TIERS]),
            protected=protected,
        )


def family_shares(table: MaterialTable, amounts: Vector) -> Vector:
    """Per formula and family, the share of the concentrate in materials of that family."""
    return np.asarray(amounts @ table.family_member / 100.0)


def brief_fit(table: MaterialTable, amounts: Vector, family_targets: Vector) -> Vector:
    """Cosine between the formula's family shares and the brief's target; 0 without one."""
    shares = family_shares(table, amounts)
    norms = np.linalg.norm(shares, axis=1)
    dot = np.einsum("nf,nf->n", shares, family_targets)
    return np.asarray(np.where(norms > 0, dot / np.where(norms > 0, norms, 1.0), 0.0))


def tier_shares(table: MaterialTable, amounts: Vector) -> Vector:
    return np.column_stack([amounts[:, table.tier_index == t].sum(axis=1) for t in range(3)])


def pyramid_balance(table: MaterialTable, amounts: Vector, tier_targets: Vector) -> Vector:
    """1 when the pyramid is the brief's, 0 at the largest possible distance."""
    return np.asarray(1.0 - np.abs(tier_shares(table, amounts) - tier_targets).sum(axis=1) / 200)


def reward_features(
    table: MaterialTable, amounts: Vector, family_targets: Vector, tier_targets: Vector
) -> Vector:
    return np.column_stack(
        [
            amounts @ table.character_member / 100.0,
            tier_shares(table, amounts) / 100.0,
            amounts @ table.price_per_kg_eur / 100.0 / COST_SCALE_EUR_PER_KG,
            (amounts > 0).sum(axis=1) / LINES_SCALE,
            brief_fit(table, amounts, family_targets),
            pyramid_balance(table, amounts, tier_targets),
        ]
    )


def reward_feature_names(table: MaterialTable) -> tuple[str, ...]:
    return (
        *(f"share:{name}" for name in table.character_names),
        *(f"pyramid:{tier.value}" for tier in TIERS),
        "cost_per_kg",
        "materials",
        "brief_fit",
        "pyramid_balance",
    )


# What the features that are not shares mean, in a perfumer's words.
FEATURE_WORDS = {
    "pyramid:top": "top notes",
    "pyramid:heart": "heart notes",
    "pyramid:base": "base notes",
    "cost_per_kg": "cost per kg",
    "materials": "materials in the formula",
    "brief_fit": "fit to the brief",
    "pyramid_balance": "the pyramid the brief asks for",
}


def feature_words(name: str) -> str:
    """A reward feature as the workbench says it: "share:family:woody" is "woody (family)",
    "share:descriptor:sweet" is "sweet"."""
    if name.startswith("share:family:"):
        return f"{name.removeprefix('share:family:')} (family)"
    if name.startswith("share:descriptor:"):
        return name.removeprefix("share:descriptor:")
    return FEATURE_WORDS.get(name, name)


def state_features(
    table: MaterialTable, amounts: Vector, family_targets: Vector, tier_targets: Vector
) -> npt.NDArray[np.float32]:
    return np.column_stack(
        [
            reward_features(table, amounts, family_targets, tier_targets),
            family_targets,
            tier_targets / 100.0,
        ]
    ).astype(np.float32)


def state_feature_names(table: MaterialTable) -> tuple[str, ...]:
    return (
        *reward_feature_names(table),
        *(f"brief:{family}" for family in table.families),
        *(f"brief_pyramid:{tier.value}" for tier in TIERS),
    )

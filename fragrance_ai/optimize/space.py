"""The search space of one brief: the catalogue materials a formula may hold, the amounts
each may take, and the matrices the vectorised evaluation multiplies a population by.

A formula is a vector over the candidate materials (percent of the concentrate, 0 when
absent), so a population is a (formulas x candidates) matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.catalogue import Catalogue, Ingredient, Tier
from fragrance_ai.domain.compliance import max_percent_in_concentrate
from fragrance_ai.domain.designer import bias_families, resolve_avoid, tier_targets
from fragrance_ai.domain.families import canonical_family
from fragrance_ai.domain.formula import Formula
from fragrance_ai.domain.products import product_profile
from fragrance_ai.domain.rules import RuleBook, rule_book

TIERS = tuple(Tier)
# No single material takes more than this share of the concentrate, whatever its range.
MAX_SHARE_PERCENT = 30.0
MIN_MATERIALS = 8
MAX_MATERIALS = 25
# Weights of a material's character: its families say more than its descriptors, and its
# first family (the one it is filed under) most.
PRIMARY_FAMILY_WEIGHT = 1.5
FAMILY_WEIGHT = 1.0
DESCRIPTOR_WEIGHT = 0.5
# In the brief's target: what it names outright, then what its moods and seasons suggest.
BRIEF_FAMILY_WEIGHT = 1.0
BIAS_FAMILY_WEIGHT = 0.5
NAMED_NOTE_WEIGHT = 0.5
# Materials the creative hints name: a pull towards them, half a named note's, never a must.
PREFERRED_NOTE_WEIGHT = NAMED_NOTE_WEIGHT / 2

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SearchSpace:
    brief: CreativeBrief
    dosage_percent: float
    materials: tuple[Ingredient, ...]
    tier_index: npt.NDArray[np.int64]
    # Candidate indices of each tier, in TIERS order.
    tier_pools: tuple[npt.NDArray[np.int64], ...]
    # Percent of the concentrate when present; a named material is always present.
    low: Vector
    high: Vector
    required: npt.NDArray[np.bool_]
    # The level that carries a named note (used by brief fit), percent of the concentrate.
    carry: Vector
    price_per_kg_eur: Vector
    # Material x (families and descriptors), rows of unit length; the brief's target there.
    features: Vector
    feature_names: tuple[str, ...]
    target: Vector
    # How well each material alone suits the brief (cosine with the target), for sampling.
    affinity: Vector
    tier_targets: Vector
    min_materials: int
    max_materials: int
    book: RuleBook
    # Row of each candidate in the rule book's material order.
    book_rows: npt.NDArray[np.int64]
    named: tuple[Ingredient, ...]
    # Named but not usable here (prohibited, uncertifiable, or ruled out by the brief itself).
    unusable_named: tuple[Ingredient, ...]
    unknown_notes: tuple[str, ...]
    avoided_families: frozenset[str]
    # Same tier and a shared family: what a "swap" mutation may exchange a material for.
    neighbours: tuple[tuple[int, ...], ...]

    @property
    def size(self) -> int:
        return len(self.materials)

    def vector_of(self, formula: Formula) -> tuple[Vector, float]:
        """A formula as a vector over the candidates, and the percent held by materials that
        are not candidates here (they count fully in any distance)."""
        vector = np.zeros(self.size)
        outside = 0.0
        position = {material.cas: index for index, material in enumerate(self.materials)}
        for line in formula.lines:
            index = position.get(line.cas)
            if index is None:
                outside += line.percent
            else:
                vector[index] += line.percent
        return vector, outside


def build_space(
    catalogue: Catalogue,
    brief: CreativeBrief,
    *,
    min_materials: int = MIN_MATERIALS,
    max_materials: int = MAX_MATERIALS,
) -> SearchSpace:
    profile = product_profile(brief.product)
    dosage = brief.dosage_percent or profile.default_dosage_percent
    excluded, avoided = resolve_avoid(catalogue, brief.avoid)
    named: list[Ingredient] = []
    unknown: list[str] = []
    for note in brief.notes:
        ingredient = catalogue.find(note)
        if ingredient is None:
            unknown.append(note)
        elif ingredient not in named:
            named.append(ingredient)
    named_cas = {ingredient.cas for ingredient in named}

    materials: list[Ingredient] = []
    lows: list[float] = []
    highs: list[float] = []
    unusable: list[Ingredient] = []
    for ingredient in catalogue:
        is_named = ingredient.cas in named_cas
        ruled_out = ingredient.cas in excluded or bool(avoided.intersection(ingredient.families))
        # Prohibited here, or limited by a figure the data lacks: never proposed (0).
        cap = max_percent_in_concentrate(ingredient, brief.product, dosage, catalogue)
        if ruled_out or cap == 0:
            if is_named:
                unusable.append(ingredient)
            continue
        low = ingredient.typical_use_min_percent
        high = min(ingredient.typical_use_max_percent, cap, MAX_SHARE_PERCENT)
        if high < low:
            if not is_named:
                continue
            # A named material whose limit sits below its usual range: as much as is allowed.
            low = high
        materials.append(ingredient)
        lows.append(low)
        highs.append(high)

    low_vector = np.array(lows)
    high_vector = np.array(highs)
    required = np.array([m.cas in named_cas for m in materials], dtype=bool)
    features, feature_names = _feature_matrix(materials)
    preferred = np.array([m.name in brief.preferred_notes for m in materials], dtype=bool)
    target = _brief_target(brief, features, feature_names, required, preferred)
    affinity = np.clip(features @ target, 0.0, None)
    book = rule_book(catalogue, brief.product)
    row_of = book.material_index()
    targets = tier_targets(brief)
    tier_index = np.array([TIERS.index(m.tier) for m in materials], dtype=np.int64)
    return SearchSpace(
        brief=brief,
        dosage_percent=dosage,
        materials=tuple(materials),
        tier_index=tier_index,
        tier_pools=tuple(np.flatnonzero(tier_index == t) for t in range(len(TIERS))),
        low=low_vector,
        high=high_vector,
        required=required,
        # A named note carries from the middle of its range (geometric: ranges span decades).
        carry=np.minimum(high_vector, np.sqrt(low_vector * np.maximum(high_vector, low_vector))),
        price_per_kg_eur=np.array([m.price_per_kg_eur for m in materials]),
        features=features,
        feature_names=feature_names,
        target=target,
        affinity=affinity,
        tier_targets=np.array([targets[tier] for tier in TIERS]),
        min_materials=min_materials,
        max_materials=max_materials,
        book=book,
        book_rows=np.array([row_of[m.cas] for m in materials], dtype=np.int64),
        named=tuple(m for m in named if m not in unusable),
        unusable_named=tuple(unusable),
        unknown_notes=tuple(unknown),
        avoided_families=frozenset(avoided),
        neighbours=_neighbours(materials),
    )


def _feature_matrix(materials: list[Ingredient]) -> tuple[Vector, tuple[str, ...]]:
    names = sorted(
        {f"family:{canonical_family(f)}" for m in materials for f in m.families}
        | {f"descriptor:{d}" for m in materials for d in m.descriptors}
    )
    column = {name: index for index, name in enumerate(names)}
    matrix = np.zeros((len(materials), len(names)))
    for row, material in enumerate(materials):
        for position, family in enumerate(material.families):
            weight = PRIMARY_FAMILY_WEIGHT if position == 0 else FAMILY_WEIGHT
            cell = column[f"family:{canonical_family(family)}"]
            matrix[row, cell] = max(matrix[row, cell], weight)
        for descriptor in material.descriptors:
            matrix[row, column[f"descriptor:{descriptor}"]] = DESCRIPTOR_WEIGHT
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0), tuple(names)


def _brief_target(
    brief: CreativeBrief,
    features: Vector,
    feature_names: tuple[str, ...],
    required: npt.NDArray[np.bool_],
    preferred: npt.NDArray[np.bool_],
) -> Vector:
    column = {name: index for index, name in enumerate(feature_names)}
    target = np.zeros(len(feature_names))
    for family in bias_families(brief):
        if f"family:{family}" in column:
            target[column[f"family:{family}"]] += BIAS_FAMILY_WEIGHT
    for family in brief.families:
        key = f"family:{canonical_family(family)}"
        if key in column:
            target[column[key]] += BRIEF_FAMILY_WEIGHT
    if required.any():
        target += NAMED_NOTE_WEIGHT * features[required].sum(axis=0)
    if preferred.any():
        target += PREFERRED_NOTE_WEIGHT * features[preferred].sum(axis=0)
    norm = float(np.linalg.norm(target))
    if norm == 0 or not math.isfinite(norm):
        # Nothing to aim at (an empty brief): every character is as good as another.
        return np.full(len(feature_names), 1 / math.sqrt(max(len(feature_names), 1)))
    return target / norm


def _neighbours(materials: list[Ingredient]) -> tuple[tuple[int, ...], ...]:
    return tuple(
        tuple(
            other
            for other, candidate in enumerate(materials)
            if other != index
            and candidate.tier == material.tier
            and set(candidate.families) & set(material.families)
        )
        for index, material in enumerate(materials)
    )

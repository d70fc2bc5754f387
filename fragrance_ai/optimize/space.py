"""The search space of one brief: the catalogue materials a formula may hold, the amounts
each may take, and the matrices the vectorised evaluation multiplies a population by.

A formula is a vector over the candidate materials (percent of the concentrate, 0 when
absent), so a population is a (formulas x candidates) matrix.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fragrance_ai.domain.brief import CreativeBrief, Intensity
from fragrance_ai.domain.catalogue import Catalogue, Ingredient, Tier
from fragrance_ai.domain.designer import (
    PYRAMID_SHIFT,
    PYRAMIDS,
    bias_families,
    resolve_avoid,
    tier_targets,
)
from fragrance_ai.domain.evocations import evocations_by_id
from fragrance_ai.domain.families import canonical_family
from fragrance_ai.domain.formula import Formula
from fragrance_ai.domain.material_knowledge import Form, KnowledgeBook
from fragrance_ai.domain.material_knowledge_file import load_knowledge
from fragrance_ai.domain.products import ProductType, product_profile
from fragrance_ai.domain.rules import RuleBook, rule_book
from fragrance_ai.domain.structures import (
    MUSK_FAMILY,
    ProductBase,
    Structure,
    StructureBook,
    load_structures,
)
from fragrance_ai.optimize.candidates import accepted_clashes, select_candidates, stand_in_group

TIERS = tuple(Tier)
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
# The key materials of the brief's structure: pulled towards like a hint.
KEY_MATERIAL_WEIGHT = PREFERRED_NOTE_WEIGHT

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
    # The classic structure the formula is built on, and the product base it goes into.
    structure: Structure
    product_base: ProductBase
    # Percent of the concentrate at which each candidate carries its character (its strength).
    carry_percent: Vector
    # Key groups of the accord (candidate indices): one of each must carry. Groups of which
    # no candidate is usable here are named in `missing_keys`.
    key_groups: tuple[npt.NDArray[np.int64], ...]
    missing_keys: tuple[tuple[str, ...], ...]
    musk: npt.NDArray[np.bool_]
    crystalline: npt.NDArray[np.bool_]
    # The named notes in any quality (lemon oil distilled when lemon oil is named), and the
    # keys of the structure and of the named families (not those an evocation brings).
    named_quality: npt.NDArray[np.bool_]
    structure_keyed: npt.NDArray[np.bool_]
    # Named notes and key materials: every option holds them by design, so they are not what
    # tells one option's idea from another's.
    shared_by_design: npt.NDArray[np.bool_]
    # What the reading suggests (an evocation's notes, a family's usual materials): many
    # options hold them, so a third view of an option's idea leaves them out too.
    suggested: npt.NDArray[np.bool_]
    # Materials left out because they clash with the brief, cost too much for the product or
    # are nitro musks nobody asked for, with the reason: shown to the perfumer.
    vetoed: tuple[tuple[str, str], ...]
    # The cost the concentrate is held to: the brief's budget, else the product's ceiling.
    cost_ceiling_eur_per_kg: float | None
    hard_cost_ceiling_eur_per_kg: float | None
    # Named materials too dear for the product, each with the key group that carries its note.
    stand_ins: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def size(self) -> int:
        return len(self.materials)

    @functools.cached_property
    def left_out_of_idea(self) -> tuple[list[bool], ...]:
        """Per view of an option's idea (ideas.VIEWS), what it leaves out as there by design:
        the named notes; those in any quality and the structure's keys; those and the keys
        an evocation brings; all that and what the reading suggests."""
        views = (
            self.required,
            self.named_quality | self.structure_keyed,
            self.shared_by_design,
            self.shared_by_design | self.suggested,
        )
        return tuple(view.tolist() for view in views)

    @functools.cached_property
    def name_rank(self) -> npt.NDArray[np.int64]:
        """Each candidate's place in alphabetical order of names (ties broken by name)."""
        ranks = np.empty(self.size, dtype=np.int64)
        ranks[np.argsort([m.name for m in self.materials], kind="stable")] = np.arange(self.size)
        return ranks

    def key_groups_by_name(self) -> list[tuple[str, ...]]:
        return [tuple(self.materials[i].name for i in group) for group in self.key_groups]

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
    knowledge: KnowledgeBook | None = None,
    structures: StructureBook | None = None,
) -> SearchSpace:
    knowledge = knowledge or load_knowledge()
    structures = structures or load_structures()
    profile = product_profile(brief.product)
    product_base = structures.product_base(brief.product)
    structure = structures.for_brief(brief)
    key_names = structures.required_keys(brief, structure)
    structure_key_names = {name for group in key_names for name in group}
    key_names += _evocation_keys(brief, key_names, catalogue)
    dosage = brief.dosage_percent or profile.default_dosage_percent
    excluded, avoided = resolve_avoid(catalogue, brief.avoid)
    named, unknown, stand_ins = _named_notes(brief, catalogue, product_base, structures)
    for _, group in stand_ins:
        if group not in key_names:
            key_names.append(group)
    named_cas = {ingredient.cas for ingredient in named}
    key_material_names = {name for group in key_names for name in group}
    accepted = accepted_clashes(brief, named, knowledge)

    chosen = select_candidates(
        catalogue,
        brief,
        dosage=dosage,
        named_cas=named_cas,
        excluded=excluded,
        avoided=avoided,
        accepted=accepted,
        knowledge=knowledge,
        product_base=product_base,
    )
    materials, unusable = chosen.materials, chosen.unusable
    low_vector = np.array(chosen.lows)
    high_vector = np.array(chosen.highs)
    required = np.array([m.cas in named_cas for m in materials], dtype=bool)
    features, feature_names = _feature_matrix(materials)
    preferred = np.array([m.name in brief.preferred_notes for m in materials], dtype=bool)
    keyed = np.array([m.name in key_material_names for m in materials], dtype=bool)
    # Lemon oil distilled when lemon oil is named, bergamot FCF for bergamot: the named note
    # in another quality, shared by design like the named material itself.
    named_quality = np.array(
        [any(m.name.startswith(f"{n.name} ") for n in named) for m in materials], dtype=bool
    )
    target = _brief_target(
        brief, features, feature_names, required=required, preferred=preferred, keyed=keyed
    )
    affinity = np.clip(features @ target, 0.0, None)
    book = rule_book(catalogue, brief.product)
    row_of = book.material_index()
    targets = structure_tier_targets(structure, brief)
    index_of = {m.name: index for index, m in enumerate(materials)}
    key_groups = []
    missing_keys = []
    for group in key_names:
        members = np.array([index_of[n] for n in group if n in index_of], dtype=np.int64)
        if members.size:
            key_groups.append(members)
        else:
            missing_keys.append(group)
    carry_percent = np.array([knowledge.of(m.cas).carry_percent for m in materials])
    # What the named materials cost at the least they are used at, EUR per kg of concentrate.
    named_cost = float(
        sum(
            low * m.price_per_kg_eur
            for m, low in zip(materials, chosen.lows, strict=True)
            if m.cas in named_cas
        )
        / 100.0
    )
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
        # A named note carries from its strength's carrying dose, where its range allows.
        carry=np.minimum(high_vector, carry_percent),
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
        structure=structure,
        product_base=product_base,
        carry_percent=carry_percent,
        key_groups=tuple(key_groups),
        missing_keys=tuple(missing_keys),
        musk=np.array([canonical_family(m.families[0]) == MUSK_FAMILY for m in materials]),
        crystalline=np.array([knowledge.of(m.cas).form is Form.CRYSTALLINE for m in materials]),
        named_quality=required | named_quality,
        structure_keyed=np.array([m.name in structure_key_names for m in materials], dtype=bool),
        shared_by_design=required | named_quality | keyed,
        suggested=preferred,
        vetoed=tuple(chosen.vetoed),
        cost_ceiling_eur_per_kg=_soft_ceiling(brief, product_base),
        hard_cost_ceiling_eur_per_kg=_hard_ceiling(brief, product_base, named_cost),
        stand_ins=tuple(stand_ins),
    )


# A brief's budget is a limit with this much room (a formula 5 % over is still a choice).
BUDGET_TOLERANCE = 0.10
# A product's cost ceiling leaves the named materials at most this share of it; past that the
# ceiling is raised so the rest of the formula still has room (and the design says so).
NAMED_SHARE_OF_CEILING = 0.5


def _named_notes(
    brief: CreativeBrief,
    catalogue: Catalogue,
    product_base: ProductBase,
    structures: StructureBook,
) -> tuple[list[Ingredient], list[str], list[tuple[str, tuple[str, ...]]]]:
    """The brief's named notes as catalogue materials, the notes no material carries, and
    the named materials too dear for the product (rose oil in a face cream), each with the
    affordable materials of its own accord that carry its note instead (the design says so)."""
    named: list[Ingredient] = []
    unknown: list[str] = []
    stand_ins: list[tuple[str, tuple[str, ...]]] = []
    for note in brief.notes:
        ingredient = catalogue.find(note)
        if ingredient is None:
            unknown.append(note)
            continue
        group = stand_in_group(ingredient, product_base, structures, catalogue)
        if group:
            stand_ins.append((ingredient.name, group))
        elif ingredient not in named:
            named.append(ingredient)
    return named, unknown, stand_ins


def _soft_ceiling(brief: CreativeBrief, product_base: ProductBase) -> float | None:
    """The cost the search aims under: the brief's budget or the product's ceiling, the lower
    where both are given ("cheap" reads as 20 EUR/kg, yet a detergent's ceiling is lower)."""
    ceilings = [c for c in (brief.budget_per_kg_eur, product_base.cost_ceiling_eur_per_kg) if c]
    return min(ceilings) if ceilings else None


def _hard_ceiling(
    brief: CreativeBrief, product_base: ProductBase, named_cost: float
) -> float | None:
    """The cost a formula may not pass: the brief's budget with a little room, and the
    product's ceiling, raised when the materials the brief names cannot fit under it; the
    lower of the two where both are given."""
    ceilings = []
    if brief.budget_per_kg_eur:
        ceilings.append(brief.budget_per_kg_eur * (1 + BUDGET_TOLERANCE))
    ceiling = product_base.cost_ceiling_eur_per_kg
    if ceiling is not None:
        ceilings.append(max(ceiling, named_cost / NAMED_SHARE_OF_CEILING))
    return min(ceilings) if ceilings else None


def _evocation_keys(
    brief: CreativeBrief, keys: list[tuple[str, ...]], catalogue: Catalogue
) -> list[tuple[str, ...]]:
    """Each evocation the text names is carried, as key groups of the accord: a reference by
    its signature (Shalimar: bergamot and vanilla), anything else in each of its facets, one
    of its materials of every family it evokes ("a forest after rain": a wood, a green note).
    A paraphrase, or a mood that colours a note ("clean musk"), is only a suggestion and
    makes no material a must."""
    by_id = evocations_by_id()
    suggestions = {*brief.paraphrased_evocations, *brief.qualifying_evocations}
    groups: list[tuple[str, ...]] = []
    for evocation_id in brief.evocations:
        evocation = by_id.get(evocation_id)
        if evocation is None or evocation_id in suggestions:
            continue
        carried = evocation.signature or _facets(evocation.notes, evocation.families, catalogue)
        for group in carried:
            if group not in keys and group not in groups:
                groups.append(group)
    return groups


def _facets(
    notes: tuple[str, ...], families: tuple[str, ...], catalogue: Catalogue
) -> list[tuple[str, ...]]:
    """An evocation's materials grouped by the evocation's families (by each material's
    first family); all of them as one group when none falls in its families."""
    family_of = {}
    for name in notes:
        material = catalogue.find(name)
        if material is not None:
            family_of[name] = canonical_family(material.families[0])
    facets = [
        tuple(name for name in notes if family_of.get(name) == canonical_family(family))
        for family in families
    ]
    facets = [facet for facet in facets if facet]
    return facets or ([notes] if notes else [])


def structure_tier_targets(structure: Structure, brief: CreativeBrief) -> dict[Tier, float]:
    """The structure's pyramid, moved towards the base or the top by the brief's intensity
    and wear exactly as `tier_targets` moves the default pyramid (the cologne's top-heaviness
    is the cologne structure's own now), never below 5 % a tier."""
    moved = tier_targets(brief)[Tier.BASE] - PYRAMIDS[Intensity.MODERATE][Tier.BASE]
    if brief.product == ProductType.EDC:
        moved += PYRAMID_SHIFT
    top = max(structure.pyramid[Tier.TOP] - moved, 5.0)
    base = max(structure.pyramid[Tier.BASE] + moved, 5.0)
    return {Tier.TOP: top, Tier.HEART: 100.0 - top - base, Tier.BASE: base}


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
    *,
    required: npt.NDArray[np.bool_],
    preferred: npt.NDArray[np.bool_],
    keyed: npt.NDArray[np.bool_],
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
    if keyed.any():
        target += KEY_MATERIAL_WEIGHT * features[keyed].mean(axis=0)
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

"""The catalogue as the arrays the learning code works on: one row per material, in the
catalogue's order, so a formula is a vector of percentages over every material.

Unlike the optimiser's search space (one brief's candidates), this table is the same for
every formula and brief: a policy trained on one formula acts on any other, and its inputs
and actions keep their meaning until the catalogue changes (a release), which the feature
and action names stored with every checkpoint detect.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fragrance_ai.domain.catalogue import Catalogue, Ingredient, Tier
from fragrance_ai.domain.compliance import max_percent_in_concentrate
from fragrance_ai.domain.families import canonical_family
from fragrance_ai.domain.formula import Formula, FormulaLine
from fragrance_ai.domain.products import ProductType

Vector = npt.NDArray[np.float64]
TIERS = tuple(Tier)
# A descriptor becomes a feature of its own once this many materials share it; rarer ones
# ("tomato leaf") would be columns the reward model sees a handful of times.
MIN_DESCRIPTOR_USES = 5
PRIMARY_FAMILY_WEIGHT = 1.5
FAMILY_WEIGHT = 1.0
DESCRIPTOR_WEIGHT = 0.5


@dataclass(frozen=True, eq=False)
class MaterialTable:
    catalogue: Catalogue
    materials: tuple[Ingredient, ...]
    row_of: dict[str, int]
    # Canonical families, sorted: the actions are named after them.
    families: tuple[str, ...]
    family_member: npt.NDArray[np.bool_]
    # Material x (families, common descriptors), rows of unit length: what a material
    # smells of, in the words the reward model and the policy see.
    character: Vector
    character_names: tuple[str, ...]
    # Material x the same columns, 1 where the material belongs to the family or has the
    # descriptor: a formula's share of the concentrate in each is amounts @ this / 100.
    character_member: Vector
    # Cosine between the characters of every two materials (swap picks the closest).
    similarity: Vector
    tier_index: npt.NDArray[np.int64]
    price_per_kg_eur: Vector
    use_min_percent: Vector
    use_max_percent: Vector
    _caps: dict[tuple[ProductType, float], Vector] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def size(self) -> int:
        return len(self.materials)

    def caps(self, product: ProductType, dosage_percent: float) -> Vector:
        """The most of each material a concentrate may hold for this product and dosage
        (0: prohibited, or a figure the data lacks), capped by its usual use range."""
        key = (product, round(dosage_percent, 6))
        with self._lock:
            cached = self._caps.get(key)
        if cached is not None:
            return cached
        caps = np.array(
            [
                min(
                    max_percent_in_concentrate(m, product, dosage_percent, self.catalogue),
                    m.typical_use_max_percent,
                )
                for m in self.materials
            ]
        )
        caps.setflags(write=False)
        with self._lock:
            self._caps[key] = caps
        return caps

    def vector_of(self, formula: Formula) -> Vector:
        """Percent per material; lines outside the catalogue (own materials) are dropped,
        which is why variations are only proposed for catalogue formulas."""
        amounts = np.zeros(self.size)
        for line in formula.lines:
            row = self.row_of.get(line.cas)
            if row is not None:
                amounts[row] += line.percent
        return amounts

    def formula_of(self, amounts: Vector, product: ProductType, dosage_percent: float) -> Formula:
        """Lines top to base, largest first; amounts rounded to 1e-4 % and the rounding
        left over put on the largest line, so the total stays 100."""
        rows = sorted(
            (int(i) for i in np.flatnonzero(amounts > 0)),
            key=lambda i: (int(self.tier_index[i]), -float(amounts[i]), i),
        )
        percents = [round(float(amounts[i]), 4) for i in rows]
        if percents:
            largest = max(range(len(percents)), key=lambda k: percents[k])
            percents[largest] = round(percents[largest] + 100.0 - sum(percents), 4)
        lines = [
            FormulaLine(
                cas=self.materials[i].cas,
                name=self.materials[i].name,
                tier=self.materials[i].tier,
                percent=percent,
            )
            for i, percent in zip(rows, percents, strict=True)
        ]
        return Formula(lines=lines, product=product, dosage_percent=dosage_percent)


_tables: dict[int, MaterialTable] = {}
_tables_lock = threading.Lock()


def material_table(catalogue: Catalogue) -> MaterialTable:
    """One table per loaded catalogue, built on first use (about 20 ms)."""
    with _tables_lock:
        table = _tables.get(id(catalogue))
        if table is None or table.catalogue is not catalogue:
            table = _build(catalogue)
            _tables[id(catalogue)] = table
        return table


def _build(catalogue: Catalogue) -> MaterialTable:
    materials = tuple(catalogue)
    families = tuple(sorted({canonical_family(f) for m in materials for f in m.families}))
    uses = Counter(d for m in materials for d in m.descriptors)
    descriptors = tuple(sorted(d for d, count in uses.items() if count >= MIN_DESCRIPTOR_USES))
    names = tuple(f"family:{f}" for f in families) + tuple(f"descriptor:{d}" for d in descriptors)
    column = {name: index for index, name in enumerate(names)}
    character = np.zeros((len(materials), len(names)))
    character_member = np.zeros((len(materials), len(names)))
    member = np.zeros((len(materials), len(families)), dtype=bool)
    for row, material in enumerate(materials):
        for position, family in enumerate(material.families):
            canonical = canonical_family(family)
            member[row, families.index(canonical)] = True
            weight = PRIMARY_FAMILY_WEIGHT if position == 0 else FAMILY_WEIGHT
            cell = column[f"family:{canonical}"]
            character[row, cell] = max(character[row, cell], weight)
            character_member[row, cell] = 1.0
        for descriptor in material.descriptors:
            if f"descriptor:{descriptor}" in column:
                character[row, column[f"descriptor:{descriptor}"]] = DESCRIPTOR_WEIGHT
                character_member[row, column[f"descriptor:{descriptor}"]] = 1.0
    norms = np.linalg.norm(character, axis=1, keepdims=True)
    character = character / np.where(norms > 0, norms, 1.0)
    return MaterialTable(
        catalogue=catalogue,
        materials=materials,
        row_of={m.cas: index for index, m in enumerate(materials)},
        families=families,
        family_member=member,
        character=character,
        character_names=names,
        character_member=character_member,
        similarity=character @ character.T,
        tier_index=np.array([TIERS.index(m.tier) for m in materials], dtype=np.int64),
        price_per_kg_eur=np.array([m.price_per_kg_eur for m in materials]),
        use_min_percent=np.array([m.typical_use_min_percent for m in materials]),
        use_max_percent=np.array([m.typical_use_max_percent for m in materials]),
    )

"""Classic structures (genres) and product bases: what a perfumer builds a brief's formula on.

A structure sets the pyramid, the range a formula of its genre keeps its base and its musks
in, and the key materials of its accord; a product base sets the carrier, a cost ceiling, the
dearest material that belongs in it and the crystalline share it takes without a solvent. The
packaged data is `data/perfumery/structures.yaml`; the loader checks every key material is a
catalogue name, so a renamed material fails the load rather than quietly leaving an accord.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.catalogue import Catalogue, Tier
from fragrance_ai.domain.evocations import evocations_by_id
from fragrance_ai.domain.families import canonical_family
from fragrance_ai.domain.material_knowledge import BASE_OF_PRODUCT, Base
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.yaml_text import parse_yaml

STRUCTURES_FILE = "structures.yaml"
COLOGNE_PRODUCTS = frozenset({ProductType.EDC})
# Evocations that name a structure outright (a famous perfume's published accord, "a chypre");
# a scene's or a mood's structure is only a suggestion, worth this much against the families.
NAMING_KINDS = frozenset({"reference", "structure"})
SUGGESTED_STRUCTURE_VOTE = 1.0
# A material the brief names that is a key of a structure says more about the genre than a
# family word does ("orange blossom ... with a soft musk" is a white floral, not a musk).
NAMED_KEY_WEIGHT = 2.0
# A material only suggested (an evocation's or a model's) is a hint, not the hero.
SUGGESTED_KEY_WEIGHT = 0.25
# Families whose materials count as musks in a formula's musk share.
MUSK_FAMILY = "musky"


class StructureError(ValueError):
    """A structure or product row is malformed; the message names it and the field."""


@dataclass(frozen=True)
class Structure:
    id: str
    name: str
    families: tuple[str, ...]
    # The family whose key material this structure's first key group holds, if any.
    signature_of: str | None
    pyramid: dict[Tier, float]
    base_percent: tuple[float, float]
    musk_percent: tuple[float, float]
    # Groups of catalogue material names: one of each carries the accord.
    keys: tuple[tuple[str, ...], ...]
    idea: str
    source: str


@dataclass(frozen=True)
class ProductBase:
    base: Base
    carrier: str
    # None: no ceiling of its own (fine fragrance: the brief's budget decides).
    cost_ceiling_eur_per_kg: float | None
    max_material_price_eur_per_kg: float | None
    crystalline_cap_percent: float
    # A leave-on product without at least this much musk has no dry-down; 0 for rinse-off.
    leave_on_musk_percent: float
    source: str


@dataclass(frozen=True)
class StructureBook:
    structures: tuple[Structure, ...]
    products: dict[Base, ProductBase]

    def get(self, structure_id: str) -> Structure | None:
        return next((s for s in self.structures if s.id == structure_id), None)

    def product_base(self, product: ProductType) -> ProductBase:
        return self.products[BASE_OF_PRODUCT[ProductType(product)]]

    def signature(self, family: str) -> Structure | None:
        key = canonical_family(family)
        return next((s for s in self.structures if s.signature_of == key), None)

    def for_brief(self, brief: CreativeBrief) -> Structure:
        """The structure a brief calls for. A reference or a structure it names ("like
        Shalimar", "a chypre") decides; an eau de cologne is a cologne; otherwise the one its
        families and named materials call for most (earlier families weigh more; each named
        material that is a key of the structure weighs more than a family), with a scene's or a
        mood's suggested structure as one more vote. A tie goes to the first listed."""
        explicit = self._named_by_reference(brief)
        if explicit is not None:
            return explicit
        if ProductType(brief.product) in COLOGNE_PRODUCTS:
            cologne = self.get("cologne")
            if cologne is not None:
                return cologne
        wanted = [canonical_family(f) for f in brief.families]
        # A note asked for as a touch ("a hint of rose") is carried but does not pick the
        # structure: it weighs as a suggestion.
        named = set(brief.notes) - set(brief.accent_notes)
        suggested = (set(brief.preferred_notes) | set(brief.accent_notes)) - named

        def score(structure: Structure) -> float:
            total = 0.0
            for rank, family in enumerate(wanted):
                if family in structure.families:
                    weight = 1.0 / (1 + rank)
                    total += weight * (1.5 if structure.families[0] == family else 1.0)
            keys = {name for group in structure.keys for name in group}
            total += NAMED_KEY_WEIGHT * len(named & keys)
            total += SUGGESTED_KEY_WEIGHT * len(suggested & keys)
            if structure.id == brief.structure:
                total += SUGGESTED_STRUCTURE_VOTE
            # A structure that covers more of the brief's families beats one that covers one.
            return total - 0.01 * len(structure.families)

        return max(self.structures, key=score)

    def _named_by_reference(self, brief: CreativeBrief) -> Structure | None:
        by_id = evocations_by_id()
        for evocation_id in brief.evocations:
            if evocation_id in brief.paraphrased_evocations:
                continue
            evocation = by_id.get(evocation_id)
            if evocation is not None and evocation.kind in NAMING_KINDS and evocation.structure:
                return self.get(evocation.structure)
        return None

    def required_keys(self, brief: CreativeBrief, structure: Structure) -> list[tuple[str, ...]]:
        """Key groups a formula for this brief must carry: the structure's, and the signature
        material of every family the text itself names (oud: agarwood or its reconstitution).
        A family only an evocation brought ("dark" -> leather) asks for no signature."""
        groups: list[tuple[str, ...]] = list(structure.keys)
        evoked = _evoked_families(brief)
        for family in brief.families:
            if canonical_family(family) in evoked:
                continue
            signature = self.signature(family)
            if signature is not None and signature.keys[0] not in groups:
                groups.append(signature.keys[0])
        return groups


def _evoked_families(brief: CreativeBrief) -> set[str]:
    by_id = evocations_by_id()
    return {
        canonical_family(family)
        for evocation_id in brief.evocations
        if (evocation := by_id.get(evocation_id)) is not None
        for family in evocation.families
    }


@functools.cache
def load_structures() -> StructureBook:
    from fragrance_ai.domain.catalogue_file import load_catalogue

    text = resources.files("fragrance_ai").joinpath("data", "perfumery", STRUCTURES_FILE)
    return parse_structures(text.read_text(encoding="utf-8"), load_catalogue())


def parse_structures(text: str, catalogue: Catalogue) -> StructureBook:
    document = parse_yaml(text) or {}
    sources = document.get("sources") or {}
    names = {material.name for material in catalogue}
    structures = tuple(
        _structure(raw, sources, names, f"structures[{index}]")
        for index, raw in enumerate(document.get("structures") or [])
    )
    ids = [s.id for s in structures]
    if len(set(ids)) != len(ids):
        raise StructureError(f"structure ids repeat: {sorted(ids)}")
    products: dict[Base, ProductBase] = {}
    for index, raw in enumerate(document.get("products") or []):
        product = _product(raw, sources, f"products[{index}]")
        products[product.base] = product
    missing = sorted(set(Base) - set(products))
    if missing:
        raise StructureError(f"no product row for bases {missing}")
    return StructureBook(structures=structures, products=products)


def _structure(raw: Any, sources: dict[str, Any], names: set[str], where: str) -> Structure:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise StructureError(f"{where}: needs an 'id'")
    where = f"{where} ({raw['id']})"
    pyramid_raw = raw.get("pyramid") or {}
    try:
        pyramid = {tier: float(pyramid_raw[tier.value]) for tier in Tier}
    except (KeyError, TypeError, ValueError):
        raise StructureError(f"{where}: 'pyramid' needs top, heart and base") from None
    if abs(sum(pyramid.values()) - 100) > 1e-6:
        raise StructureError(f"{where}: 'pyramid' must add up to 100")
    keys = tuple(tuple(group) for group in raw.get("keys") or [])
    if not keys:
        raise StructureError(f"{where}: 'keys' needs at least one group")
    unknown = sorted({name for group in keys for name in group} - names)
    if unknown:
        raise StructureError(f"{where}: keys name materials not in the catalogue: {unknown}")
    families = tuple(canonical_family(f) for f in raw.get("families") or [])
    if not families:
        raise StructureError(f"{where}: 'families' is required")
    signature = raw.get("signature_of")
    return Structure(
        id=raw["id"],
        name=str(raw.get("name") or raw["id"]),
        families=families,
        signature_of=None if signature is None else canonical_family(str(signature)),
        pyramid=pyramid,
        base_percent=_range(raw, "base_percent", where),
        musk_percent=_range(raw, "musk_percent", where),
        keys=keys,
        idea=_text(raw, "idea", where),
        source=_source(raw, sources, where),
    )


def _product(raw: Any, sources: dict[str, Any], where: str) -> ProductBase:
    if not isinstance(raw, dict):
        raise StructureError(f"{where}: not a mapping")
    try:
        base = Base(str(raw.get("base")))
    except ValueError:
        raise StructureError(f"{where}: 'base' {raw.get('base')!r} is not a product base") from None
    return ProductBase(
        base=base,
        carrier=_text(raw, "carrier", where),
        cost_ceiling_eur_per_kg=_optional_number(raw, "cost_ceiling_eur_per_kg", where),
        max_material_price_eur_per_kg=_optional_number(raw, "max_material_price_eur_per_kg", where),
        crystalline_cap_percent=float(_optional_number(raw, "crystalline_cap_percent", where) or 0),
        leave_on_musk_percent=float(_optional_number(raw, "leave_on_musk_percent", where) or 0),
        source=_source(raw, sources, where),
    )


def _range(raw: dict[str, Any], field: str, where: str) -> tuple[float, float]:
    value = raw.get(field)
    if not (isinstance(value, list) and len(value) == 2) or not value[0] <= value[1]:
        raise StructureError(f"{where}: {field!r} must be [low, high]")
    return float(value[0]), float(value[1])


def _text(raw: dict[str, Any], field: str, where: str) -> str:
    value = raw.get(field)
    if not isinstance(value, str) or not value.strip():
        raise StructureError(f"{where}: {field!r} is required")
    return value


def _optional_number(raw: dict[str, Any], field: str, where: str) -> float | None:
    value = raw.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise StructureError(f"{where}: {field!r} must be a non-negative number or null")
    return float(value)


def _source(raw: dict[str, Any], sources: dict[str, Any], where: str) -> str:
    key = raw.get("source")
    if isinstance(key, str) and key in sources:
        return str(sources[key])
    raise StructureError(f"{where}: 'source' must be a key of 'sources'")

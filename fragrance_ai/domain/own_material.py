"""A perfumer's own material, outside the catalogue, assessed on the composition they
declare (the CAS numbers and percentages of its regulated constituents, or none known).

A declared constituent counts against every rule its CAS falls under. A constituent whose
CAS the data does not know at all (neither a regulated substance nor a catalogue material
with a researched status) leaves the line uncertifiable: its status is unknown, not clean.
"""

from __future__ import annotations

from fragrance_ai.domain.catalogue import Catalogue, Ingredient, Substance, Tier


def is_regulated_cas(cas: str, catalogue: Catalogue) -> bool:
    return any(cas in substance.cas for substance in catalogue.substances.values())


def own_material(
    *,
    name: str,
    cas: str,
    tier: Tier,
    composition: list[tuple[str, float]],
    catalogue: Catalogue,
) -> tuple[Ingredient, str]:
    """The material, and why it cannot be certified ("" when it can)."""
    by_cas: dict[str, list[Substance]] = {}
    for substance in catalogue.substances.values():
        # A number shared by several grades counts against the strictest: every Standard
        # that lists it (the expressed oil's phototoxicity for 8008-26-2, lime oil).
        for number in (*substance.cas, *substance.shared_cas):
            by_cas.setdefault(number, []).append(substance)
    # A material whose own CAS is a regulated substance's is that substance.
    contributions: list[tuple[Substance, float]] = [(s, 1.0) for s in by_cas.get(cas, [])]
    unknown: list[str] = []
    for constituent_cas, percent in composition:
        fraction = percent / 100
        substances = by_cas.get(constituent_cas)
        if substances:
            contributions.extend((substance, fraction) for substance in substances)
            continue
        known_material = catalogue.get(constituent_cas)
        if known_material is None:
            unknown.append(constituent_cas)
            continue
        contributions.extend((s, fraction * f) for s, f in known_material.contributions)
    reason = ""
    if unknown:
        reason = (
            "declared constituents with a CAS the data does not know, so their regulatory "
            "status is unknown: " + ", ".join(unknown)
        )
    material = Ingredient(
        name=name,
        synonyms=(),
        cas=cas,
        tier=tier,
        families=("own",),
        descriptors=(),
        typical_use_min_percent=0.0,
        typical_use_max_percent=100.0,
        price_per_kg_eur=0.0,
        price_source="not known: the perfumer's own material",
        natural=False,
        ifra=(),
        contributions=tuple(contributions),
    )
    return material, reason

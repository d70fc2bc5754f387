"""Which rule binds each regulated substance in one kind of product.

IFRA's standard for the product's category and, for a cosmetic, EU Regulation (EC) No
1223/2009 (Annex II bans, Annex III maxima) apply together: the stricter wins and the binding
rule is named. For a product that is not a cosmetic (candles, home care) the EU side is CLP /
REACH: a CMR of category 1A or 1B may not reach its limit in a mixture supplied to the public.

A substance under an IFRA restriction or prohibition without a usable figure for the
category cannot be certified: the rule book records why, and nothing here or downstream
treats a missing figure as a pass.

The rule book is compiled once per (catalogue, product) and cached: the compliance check,
the repair, the designer and the population check all read the same limits.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from fragrance_ai.domain.catalogue import (
    Catalogue,
    EuLimit,
    EuScope,
    IfraStandardType,
    Ingredient,
    Substance,
)
from fragrance_ai.domain.products import ProductProfile, ProductType, product_profile

_ORDINALS = {"1": "st", "2": "nd", "3": "rd"}


@dataclass(frozen=True)
class AppliedLimit:
    """One rule's maximum for a substance in the finished product."""

    allowed_percent: float
    prohibited: bool
    # Names the rule for a person: "IFRA 49th Amendment, category 4" or "EU Regulation (EC)
    # No 1223/2009, Annex III entry 73".
    rule: str
    source: str
    uncertain: bool
    # "ifra", "eu_cosmetics" or "eu_clp_reach".
    authority: str


@dataclass(frozen=True)
class AllergenEntry:
    """What an allergen line says of its substance whatever the formula."""

    substance: str
    # The name to print on the label.
    inci: str
    cas: str
    added_2023: bool
    uncertain: bool


@dataclass(frozen=True)
class SubstanceRule:
    substance: Substance
    # Every rule that applies; `binding` is the strictest of them.
    limits: tuple[AppliedLimit, ...]
    # Why the substance cannot be certified in this product (no IFRA figure); "" if it can.
    missing_reason: str
    # The IFRA limit counts in the phototoxic additive rule.
    phototoxic_limit_percent: float | None

    # What a report says of this substance whatever the formula: computed once per rule
    # book, because the check runs on every candidate an optimiser scores.
    @functools.cached_property
    def review_reason(self) -> str:
        return f"{self.missing_reason} {self.substance.ifra_note}".strip()

    @functools.cached_property
    def is_specification(self) -> bool:
        return self.substance.ifra_standard is IfraStandardType.SPECIFICATION

    @functools.cached_property
    def allergen_entry(self) -> AllergenEntry | None:
        allergen = self.substance.allergen
        if allergen is None:
            return None
        return AllergenEntry(
            substance=self.substance.name,
            inci=allergen.inci or self.substance.name,
            cas=self.substance.label_cas,
            added_2023=allergen.added_2023,
            uncertain=allergen.uncertain,
        )

    @functools.cached_property
    def binding(self) -> AppliedLimit | None:
        if not self.limits:
            return None
        return min(self.limits, key=lambda limit: limit.allowed_percent)


class Share(NamedTuple):
    """A substance a material brings, as a fraction of the material, with its rule here."""

    substance_id: str
    rule: SubstanceRule
    fraction: float


@dataclass(frozen=True)
class RuleBook:
    profile: ProductProfile
    rules: dict[str, SubstanceRule]
    # Each catalogue material's substances with their rules, by CAS: the compliance check
    # reads a line's shares in one lookup instead of one rule lookup per substance.
    shares: dict[str, tuple[Share, ...]]
    # Catalogue materials in a fixed order, and their substance fractions as a matrix (rows:
    # materials, columns: `substance_ids`), for evaluating many formulas at once.
    material_cas: tuple[str, ...]
    substance_ids: tuple[str, ...]
    fractions: npt.NDArray[np.float64]
    # Per substance column: the binding limit (inf where none), whether it is missing (cannot
    # certify), and the phototoxic limit (inf where the substance is not phototoxic).
    limit_vector: npt.NDArray[np.float64]
    missing_vector: npt.NDArray[np.bool_]
    phototoxic_vector: npt.NDArray[np.float64]

    def rule_for(self, substance_id: str) -> SubstanceRule | None:
        return self.rules.get(substance_id)

    def material_index(self) -> dict[str, int]:
        return {cas: index for index, cas in enumerate(self.material_cas)}

    def shares_of(self, material: Ingredient) -> tuple[Share, ...]:
        """`shares` for any material: a perfumer's own too, whose declared substances may
        be outside the catalogue's list."""
        return _shares(material, self.rules, self.profile)


def amendment_label(amendment: str) -> str:
    if not amendment:
        return "amendment not stated"
    if amendment.isdigit():
        suffix = "th" if amendment[-2:] in ("11", "12", "13") else _ORDINALS.get(amendment[-1])
        return f"{amendment}{suffix or 'th'} Amendment"
    return amendment


@functools.lru_cache(maxsize=64)
def rule_book(catalogue: Catalogue, product: ProductType) -> RuleBook:
    profile = product_profile(product)
    rules = {
        substance.id: _substance_rule(substance, profile)
        for substance in catalogue.substances.values()
    }
    substance_ids = tuple(rules)
    column = {substance_id: index for index, substance_id in enumerate(substance_ids)}
    materials = list(catalogue)
    fractions = np.zeros((len(materials), len(substance_ids)))
    for row, material in enumerate(materials):
        for substance, fraction in material.contributions:
            if substance.id in column:
                fractions[row, column[substance.id]] += fraction
    limit_vector = np.full(len(substance_ids), math.inf)
    missing_vector = np.zeros(len(substance_ids), dtype=bool)
    phototoxic_vector = np.full(len(substance_ids), math.inf)
    for index, substance_id in enumerate(substance_ids):
        rule = rules[substance_id]
        binding = rule.binding
        if binding is not None:
            limit_vector[index] = binding.allowed_percent
        missing_vector[index] = bool(rule.missing_reason)
        if rule.phototoxic_limit_percent is not None:
            phototoxic_vector[index] = rule.phototoxic_limit_percent
    return RuleBook(
        profile=profile,
        rules=rules,
        shares={material.cas: _shares(material, rules, profile) for material in materials},
        material_cas=tuple(material.cas for material in materials),
        substance_ids=substance_ids,
        fractions=fractions,
        limit_vector=limit_vector,
        missing_vector=missing_vector,
        phototoxic_vector=phototoxic_vector,
    )


def _shares(
    material: Ingredient, rules: dict[str, SubstanceRule], profile: ProductProfile
) -> tuple[Share, ...]:
    shares = []
    for substance, fraction in material.contributions:
        rule = rules.get(substance.id)
        if rule is None or rule.substance is not substance:
            # A substance declared with a perfumer's own material.
            rule = _substance_rule(substance, profile)
        shares.append(Share(substance.id, rule, fraction))
    return tuple(shares)


def _substance_rule(substance: Substance, profile: ProductProfile) -> SubstanceRule:
    category = profile.ifra_category
    limits: list[AppliedLimit] = []
    missing = ""
    phototoxic: float | None = None
    ifra = substance.limit_for(category)
    if substance.lacks_figure_for(category):
        searched = f" Searched: {substance.ifra_searched}" if substance.ifra_searched else ""
        why = f" ({ifra.note})" if ifra is not None and ifra.note else ""
        missing = (
            f"IFRA {substance.ifra_standard} standard with no usable figure for category "
            f"{category} in the data{why}.{searched}"
        )
    elif ifra is not None and not ifra.unrestricted:
        limits.append(
            AppliedLimit(
                allowed_percent=ifra.allowed_percent,
                prohibited=ifra.prohibited,
                rule=f"IFRA {amendment_label(ifra.amendment)}, category {category}",
                source=ifra.source,
                uncertain=ifra.uncertain,
                authority="ifra",
            )
        )
        if substance.phototoxic and not ifra.prohibited:
            phototoxic = ifra.allowed_percent
    if profile.cosmetic:
        limits.extend(
            AppliedLimit(
                allowed_percent=eu.allowed_percent,
                prohibited=eu.prohibited,
                rule=f"EU Regulation (EC) No 1223/2009, {eu.rule}",
                source=eu.source,
                uncertain=eu.uncertain,
                authority="eu_cosmetics",
            )
            for eu in substance.eu_limits
            if _eu_scope_applies(eu, profile)
        )
    elif substance.cmr is not None and substance.cmr.public_mixture_limit_percent is not None:
        # Not a cosmetic: REACH Annex XVII forbids supplying the public a mixture holding a
        # CMR 1A/1B at or above its limit. Modelled as "must stay below".
        limits.append(
            AppliedLimit(
                allowed_percent=substance.cmr.public_mixture_limit_percent,
                prohibited=False,
                rule=(
                    f"EU CLP {substance.cmr.classification} (REACH Annex XVII, mixtures "
                    "supplied to the general public)"
                ),
                source=substance.cmr.source,
                uncertain=substance.cmr.uncertain,
                authority="eu_clp_reach",
            )
        )
    return SubstanceRule(
        substance=substance,
        limits=tuple(limits),
        missing_reason=missing,
        phototoxic_limit_percent=phototoxic,
    )


def _eu_scope_applies(limit: EuLimit, profile: ProductProfile) -> bool:
    fine_fragrance = profile.ifra_category == "4"
    match limit.scope:
        case EuScope.EAU_DE_TOILETTE:
            return profile.product in (ProductType.EDT, ProductType.EDC)
        case EuScope.LEAVE_ON_OTHER_THAN_FINE_FRAGRANCE:
            return profile.leave_on and not fine_fragrance
        case EuScope.ALL:
            return True
        case EuScope.LEAVE_ON:
            return profile.leave_on
        case EuScope.RINSE_OFF:
            return not profile.leave_on
        case EuScope.FINE_FRAGRANCE:
            return fine_fragrance
        case EuScope.OTHER_THAN_FINE_FRAGRANCE:
            return not fine_fragrance

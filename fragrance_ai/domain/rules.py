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
from datetime import date, timedelta
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
    # The date from which the rule binds a new product (IFRA: new creations; EU: placing on
    # the market); None when it has bound since before any date the engine is asked about.
    binding_from: date | None = None
    # The figure as the rule states it, where `allowed_percent` differs from it: a limit
    # that a level may not reach ("at or above"), which the check reads as "over".
    stated_percent: float | None = None

    @property
    def figure_percent(self) -> float:
        return self.allowed_percent if self.stated_percent is None else self.stated_percent


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
    # Rules that do not bind yet on the rule book's date but will within its horizon.
    upcoming: tuple[AppliedLimit, ...] = ()
    # The rule of the substance added as such, where that differs (`RuleBook.as_such_rules`).
    added_as_such: bool = False

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

    @functools.cached_property
    def design_binding(self) -> AppliedLimit | None:
        """The strictest rule binding now or within the horizon: what a formula designed
        today must meet so that it is not obsolete when an adopted rule starts to bind."""
        every = self.limits + self.upcoming
        if not every:
            return None
        return min(every, key=lambda limit: limit.allowed_percent)


class Share(NamedTuple):
    """A substance a material brings, as a fraction of the material, with its rule here."""

    substance_id: str
    rule: SubstanceRule
    fraction: float


@dataclass(frozen=True)
class RuleBook:
    profile: ProductProfile
    # The date the rules are read for (None: every rule the data holds binds, whatever its
    # date), and the end of the horizon within which a rule adopted but not yet binding is
    # reported as upcoming.
    as_of: date | None
    horizon_end: date | None
    rules: dict[str, SubstanceRule]
    # A substance's rule when a material IS the substance (added as such), where that differs
    # from its rule as a constituent of a natural: methyl eugenol is banned in cosmetics except
    # as the natural content of an essence (Annex II), so its rule as such is a prohibition.
    as_such_rules: dict[str, SubstanceRule]
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
        be outside the catalogue's list. A perfumer's own material never carries a catalogue
        material's CAS (a line given that CAS is the catalogue's material)."""
        compiled = self.shares.get(material.cas)
        if compiled is not None:
            return compiled
        return _shares(material, self.rules, self.as_such_rules, self.profile, self._dates)

    @property
    def _dates(self) -> tuple[date | None, date | None]:
        return self.as_of, self.horizon_end


def amendment_label(amendment: str) -> str:
    if not amendment:
        return "amendment not stated"
    if amendment.isdigit():
        suffix = "th" if amendment[-2:] in ("11", "12", "13") else _ORDINALS.get(amendment[-1])
        return f"{amendment}{suffix or 'th'} Amendment"
    return amendment


DEFAULT_HORIZON_DAYS = 365
AS_SUCH = "#as_such"
# Levels are compared with a little slack so that a line capped exactly at its limit is not
# reported as a violation because of floating-point rounding.
TOLERANCE_PERCENT = 1e-9


@functools.lru_cache(maxsize=256)
def rule_book(
    catalogue: Catalogue,
    product: ProductType,
    as_of: date | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> RuleBook:
    """The rules for one product on one date. `as_of` None reads every rule the data holds
    as binding, adopted or in force: the strictest reading, which the designer uses so that
    no option it offers breaks a rule already adopted."""
    profile = product_profile(product)
    horizon_end = as_of + timedelta(days=horizon_days) if as_of is not None else None
    dates = (as_of, horizon_end)
    rules = {
        substance.id: _substance_rule(substance, profile, dates, as_such=False)
        for substance in catalogue.substances.values()
    }
    as_such_rules = {
        substance.id: _substance_rule(substance, profile, dates, as_such=True)
        for substance in catalogue.substances.values()
        if any(eu.only_added_as_such for eu in substance.eu_limits)
    }
    materials = list(catalogue)
    substance_ids, fractions = _substance_matrix(materials, as_such_rules)
    limit_vector = np.full(len(substance_ids), math.inf)
    missing_vector = np.zeros(len(substance_ids), dtype=bool)
    phototoxic_vector = np.full(len(substance_ids), math.inf)
    for index, substance_id in enumerate(substance_ids):
        if substance_id.endswith(AS_SUCH):
            rule = as_such_rules[substance_id.removesuffix(AS_SUCH)]
        else:
            rule = rules[substance_id]
        binding = rule.design_binding
        if binding is not None:
            limit_vector[index] = binding.allowed_percent
        missing_vector[index] = bool(rule.missing_reason)
        if rule.phototoxic_limit_percent is not None and not substance_id.endswith(AS_SUCH):
            phototoxic_vector[index] = rule.phototoxic_limit_percent
    return RuleBook(
        profile=profile,
        as_of=as_of,
        horizon_end=horizon_end,
        rules=rules,
        as_such_rules=as_such_rules,
        shares={
            material.cas: _shares(material, rules, as_such_rules, profile, dates)
            for material in materials
        },
        material_cas=tuple(material.cas for material in materials),
        substance_ids=substance_ids,
        fractions=fractions,
        limit_vector=limit_vector,
        missing_vector=missing_vector,
        phototoxic_vector=phototoxic_vector,
    )


def _substance_matrix(
    materials: list[Ingredient], as_such_rules: dict[str, SubstanceRule]
) -> tuple[tuple[str, ...], npt.NDArray[np.float64]]:
    """The columns (substance ids; `id#as_such` for a substance a material is itself, where
    its rule as such differs) and each material's fractions in them. Only the substances some
    catalogue material brings get a column: the data lists every substance of IFRA's and the
    EU's lists, most of which no material brings, and the population check multiplies by this
    matrix for every generation."""
    # Each material's (column, fraction) pairs, then the columns in the order first met.
    entries = [
        [
            (column, fraction)
            for substance, fraction in material.contributions
            if fraction > 0
            for column in (
                (substance.id, substance.id + AS_SUCH)
                if _added_as_such(material, substance, as_such_rules)
                else (substance.id,)
            )
        ]
        for material in materials
    ]
    substance_ids = tuple(dict.fromkeys(column for row in entries for column, _ in row))
    index = {substance_id: position for position, substance_id in enumerate(substance_ids)}
    fractions = np.zeros((len(materials), len(substance_ids)))
    for row, pairs in enumerate(entries):
        for column, fraction in pairs:
            fractions[row, index[column]] += fraction
    return substance_ids, fractions


def _added_as_such(
    material: Ingredient, substance: Substance, as_such_rules: dict[str, SubstanceRule]
) -> bool:
    """The material IS the substance, and the substance has a rule of its own as such."""
    return substance.id in as_such_rules and material.cas in substance.cas


def _shares(
    material: Ingredient,
    rules: dict[str, SubstanceRule],
    as_such_rules: dict[str, SubstanceRule],
    profile: ProductProfile,
    dates: tuple[date | None, date | None],
) -> tuple[Share, ...]:
    shares = []
    for substance, fraction in material.contributions:
        as_such = _added_as_such(material, substance, as_such_rules)
        rule = (as_such_rules if as_such else rules).get(substance.id)
        if rule is None or rule.substance is not substance:
            # A substance declared with a perfumer's own material.
            rule = _substance_rule(substance, profile, dates, as_such=as_such)
        shares.append(Share(substance.id, rule, fraction))
    return tuple(shares)


def _substance_rule(
    substance: Substance,
    profile: ProductProfile,
    dates: tuple[date | None, date | None],
    *,
    as_such: bool,
) -> SubstanceRule:
    category = profile.ifra_category
    limits: list[AppliedLimit] = []
    missing = ""
    phototoxic: float | None = None
    ifra = substance.limit_for(category)
    as_of = dates[0]
    starts = substance.ifra_new_creations_from
    if as_of is not None and starts is not None and as_of < starts:
        # Before its deadline the amendment before it bound, whose figure the data does not
        # hold (it may have been stricter): never read as "no limit".
        missing = (
            f"IFRA Standard {substance.ifra_key or substance.name} binds new creations from "
            f"{starts.isoformat()}; the figure that bound on {as_of.isoformat()} (an earlier "
            "amendment's) is not in the data."
        )
    elif substance.lacks_figure_for(category):
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
                binding_from=substance.ifra_new_creations_from,
            )
        )
        if substance.phototoxic and not ifra.prohibited:
            phototoxic = ifra.allowed_percent
    if profile.cosmetic:
        limits.extend(
            AppliedLimit(
                allowed_percent=eu.allowed_percent,
                prohibited=eu.prohibited,
                rule=f"EU Regulation (EC) No 1223/2009, {eu.rule}"
                + (f" as amended by {eu.act}" if eu.act else ""),
                source=eu.source,
                uncertain=eu.uncertain,
                authority="eu_cosmetics",
                binding_from=eu.placing_on_market_from,
            )
            for eu in substance.eu_limits
            if _eu_scope_applies(eu, profile) and (as_such or not eu.only_added_as_such)
        )
    elif substance.cmr is not None and substance.cmr.public_mixture_limit_percent is not None:
        # Not a cosmetic: REACH Annex XVII entries 28-30 forbid supplying the public a mixture
        # holding a CMR 1A/1B AT OR ABOVE its limit; the check flags a level over the limit,
        # so the limit is the largest level still below it.
        limits.append(
            AppliedLimit(
                allowed_percent=_just_below(substance.cmr.public_mixture_limit_percent),
                prohibited=False,
                rule=(
                    f"EU CLP {substance.cmr.classification} (REACH Annex XVII, mixtures "
                    "supplied to the general public: at or above "
                    f"{substance.cmr.public_mixture_limit_percent:g} % is not allowed)"
                ),
                source=substance.cmr.source,
                uncertain=substance.cmr.uncertain,
                authority="eu_clp_reach",
                stated_percent=substance.cmr.public_mixture_limit_percent,
            )
        )
    binding, upcoming = _by_date(limits, dates)
    return SubstanceRule(
        substance=substance,
        limits=binding,
        missing_reason=missing,
        phototoxic_limit_percent=phototoxic,
        upcoming=upcoming,
        added_as_such=as_such,
    )


def _by_date(
    limits: list[AppliedLimit], dates: tuple[date | None, date | None]
) -> tuple[tuple[AppliedLimit, ...], tuple[AppliedLimit, ...]]:
    """The rules that bind on the date, and those that will within the horizon; a rule
    adopted to bind later still is left out (the designer, with no date, reads them all)."""
    as_of, horizon_end = dates
    if as_of is None or horizon_end is None:
        return tuple(limits), ()
    binding = tuple(
        limit for limit in limits if limit.binding_from is None or limit.binding_from <= as_of
    )
    upcoming = tuple(
        limit
        for limit in limits
        if limit.binding_from is not None and as_of < limit.binding_from <= horizon_end
    )
    return binding, upcoming


def _just_below(limit_percent: float) -> float:
    """The largest level that is still below `limit_percent`, as a comparison "over" reads
    it: a level over `allowed + TOLERANCE_PERCENT` is a violation, so exactly the limit is
    over, and a cap at `allowed` passes."""
    return limit_percent - 2 * TOLERANCE_PERCENT


def _eu_scope_applies(limit: EuLimit, profile: ProductProfile) -> bool:
    if limit.products:
        return profile.product.value in limit.products
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

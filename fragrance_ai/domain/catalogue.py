"""The catalogue of perfumery materials and the regulated substances they contain.

`catalogue_file` reads and validates the packaged data file into these types.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

_CAS_SHAPE = re.compile(r"^(\d{2,7})-(\d{2})-(\d)$")


class CatalogueError(ValueError):
    """A data row is malformed; the message names the row and the field."""


class Tier(StrEnum):
    TOP = "top"
    HEART = "heart"
    BASE = "base"


class Volatility(StrEnum):
    """How fast a material leaves a blotter, from a few minutes to weeks."""

    VERY_HIGH = "very_high"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    VERY_LOW = "very_low"


class IfraStandardType(StrEnum):
    RESTRICTION = "restriction"
    PROHIBITION = "prohibition"
    SPECIFICATION = "specification"


@dataclass(frozen=True)
class IfraLimit:
    category: str
    # None means prohibited: the allowed level is 0.
    max_percent_in_finished_product: float | None
    source: str
    note: str = ""
    # The figure comes from a secondary source or an older amendment and is applied as
    # binding, but it is not confirmed against the 51st Amendment text.
    uncertain: bool = False
    # The standard explicitly sets no limit for this category.
    unrestricted: bool = False
    # The amendment the figure was read from ("51st", "49th"), as the data names it.
    amendment: str = ""
    # The table exists but gives no number here ("see note", an unreadable cell): the
    # engine cannot certify this category and the repair treats it as prohibited.
    unreadable: bool = False

    @property
    def allowed_percent(self) -> float:
        if self.unrestricted:
            return 100.0
        return self.max_percent_in_finished_product or 0.0

    @property
    def prohibited(self) -> bool:
        return (
            not self.unrestricted
            and not self.unreadable
            and self.max_percent_in_finished_product is None
        )


class EuScope(StrEnum):
    """Which cosmetic products an EU entry covers."""

    ALL = "all"
    LEAVE_ON = "leave_on"
    RINSE_OFF = "rinse_off"
    FINE_FRAGRANCE = "fine_fragrance"
    # EDT and EDC, where an entry sets a stricter figure than for fine fragrance in general.
    EAU_DE_TOILETTE = "eau_de_toilette"
    LEAVE_ON_OTHER_THAN_FINE_FRAGRANCE = "leave_on_other_than_fine_fragrance"
    # Every cosmetic but fine fragrance (e.g. musk ketone's "other products").
    OTHER_THAN_FINE_FRAGRANCE = "other_than_fine_fragrance"


@dataclass(frozen=True)
class EuLimit:
    """A maximum (Annex III) or a ban (Annex II) of Regulation (EC) No 1223/2009."""

    rule: str
    scope: EuScope
    # None means prohibited.
    max_percent_in_finished_product: float | None
    source: str
    uncertain: bool = False
    note: str = ""
    # The act that set this figure ("Regulation (EU) 2026/909"), and the dates from which a
    # product breaking it may no longer be placed on the market (new products) and made
    # available (every product). None: in force since before any date the engine is asked.
    act: str = ""
    placing_on_market_from: date | None = None
    making_available_from: date | None = None
    # Our product types (ProductType values) the figure covers, from the reviewed mapping of
    # the Annex's "Product type, body parts"; when given it replaces `scope`.
    products: tuple[str, ...] = ()
    # The figure applies only to the substance added as such, not to its natural content in
    # an essential oil or extract (methyl eugenol: Annex II bans it except as such content).
    only_added_as_such: bool = False

    @property
    def allowed_percent(self) -> float:
        return self.max_percent_in_finished_product or 0.0

    @property
    def prohibited(self) -> bool:
        return self.max_percent_in_finished_product is None


@dataclass(frozen=True)
class CmrClass:
    """A harmonised CLP classification (Annex VI of Regulation (EC) No 1272/2008) as
    carcinogenic, mutagenic or toxic for reproduction."""

    classification: str
    source: str
    # REACH Annex XVII entries 28-30: a mixture supplied to the general public may not hold
    # a category 1A/1B CMR at or above this (percent); None for category 2 (labelling only).
    public_mixture_limit_percent: float | None
    uncertain: bool = False


@dataclass(frozen=True)
class EuAllergen:
    """A fragrance allergen of Annex III of Regulation (EC) No 1223/2009: it must be named on
    the label above 0.001 % in leave-on and 0.01 % in rinse-off products."""

    source: str
    uncertain: bool = False
    note: str = ""
    # The INCI name to print on the label.
    inci: str = ""
    # Added by Regulation (EU) 2023/1545: labelled on products placed on the market from 31
    # July 2026 (all products made available from 31 July 2028).
    added_2023: bool = False


@dataclass(frozen=True)
class Substance:
    """Something a rule applies to: an IFRA standard, an EU allergen entry, or both. A
    material is a substance when its CAS is listed here, and contains substances through its
    constituents."""

    id: str
    name: str
    cas: tuple[str, ...]
    ifra_standard: IfraStandardType | None
    limits: tuple[IfraLimit, ...]
    ifra_note: str
    allergen: EuAllergen | None
    # Where a standard exists but no figure could be found: what was searched.
    ifra_searched: str = ""
    # The standard's critical effect is phototoxicity: its levels over their limits add up
    # (IFRA's additive rule, sum <= 1).
    phototoxic: bool = False
    eu_limits: tuple[EuLimit, ...] = ()
    cmr: CmrClass | None = None
    # The IFRA Standard's key in IFRA's overview ("IFRA_STD_160") and its implementation
    # deadlines: for new creations, then for existing creations.
    ifra_key: str = ""
    ifra_new_creations_from: date | None = None
    ifra_existing_creations_from: date | None = None
    # Conditions a specification Standard (or the specification part of a restriction) sets
    # on the material's quality, printed on the report and the certificate as they are:
    # "Oakmoss extracts: atranol and chloroatranol each below 100 ppm".
    conditions: tuple[str, ...] = ()
    # CAS numbers the Standard lists beside the substance's own that the catalogue files
    # under another grade (IFRA's "Lime oil expressed" lists 8008-26-2, our distilled lime's
    # number): a line given by such a number alone may mean either grade, so it must name
    # the grade; it never makes the other grade's material this substance.
    shared_cas: tuple[str, ...] = ()

    def limit_for(self, category: str) -> IfraLimit | None:
        return self._limits_by_category.get(category)

    @functools.cached_property
    def _limits_by_category(self) -> dict[str, IfraLimit]:
        return {limit.category: limit for limit in self.limits}

    def lacks_figure_for(self, category: str) -> bool:
        """A restricting standard exists but the data has no usable figure for this
        category."""
        if self.ifra_standard not in (IfraStandardType.RESTRICTION, IfraStandardType.PROHIBITION):
            return False
        limit = self.limit_for(category)
        return limit is None or limit.unreadable

    @property
    def label_cas(self) -> str:
        return self.cas[0] if self.cas else ""


@dataclass(frozen=True)
class Constituent:
    substance: Substance
    # Typical mass fraction in the material, percent.
    percent: float
    source: str
    uncertain: bool = False


@dataclass(frozen=True)
class Ingredient:
    name: str
    synonyms: tuple[str, ...]
    cas: str
    tier: Tier
    families: tuple[str, ...]
    descriptors: tuple[str, ...]
    typical_use_min_percent: float
    typical_use_max_percent: float
    price_per_kg_eur: float
    price_source: str
    natural: bool
    ifra: tuple[IfraLimit, ...]
    ifra_note: str = ""
    note: str = ""
    volatility: Volatility = Volatility.MEDIUM
    constituents: tuple[Constituent, ...] = ()
    # Regulated substances this material brings, with their mass fraction (0-1): itself
    # when its CAS is a substance's, then its constituents. Filled in by the loader.
    contributions: tuple[tuple[Substance, float], ...] = field(default=(), compare=False)

    def limit_for(self, category: str) -> IfraLimit | None:
        return next((limit for limit in self.ifra if limit.category == category), None)

    def is_prohibited_in(self, category: str) -> bool:
        return any(
            fraction > 0
            and (limit := substance.limit_for(category)) is not None
            and limit.prohibited
            for substance, fraction in self.contributions
        )

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.synonyms)


def is_valid_cas(cas: str) -> bool:
    """CAS registry numbers end in a check digit: the other digits, read right to left and
    weighted 1, 2, 3, ..., sum to it modulo 10."""
    match = _CAS_SHAPE.match(cas.strip()) if isinstance(cas, str) else None
    if match is None:
        return False
    body = match.group(1) + match.group(2)
    weighted = sum(weight * int(digit) for weight, digit in enumerate(reversed(body), start=1))
    return weighted % 10 == int(match.group(3))


class Catalogue:
    def __init__(
        self, ingredients: list[Ingredient], substances: list[Substance] | None = None
    ) -> None:
        self._by_cas: dict[str, Ingredient] = {}
        self._by_name: dict[str, Ingredient] = {}
        self.substances: dict[str, Substance] = {s.id: s for s in substances or []}
        for ingredient in ingredients:
            if ingredient.cas in self._by_cas:
                raise CatalogueError(f"duplicate CAS {ingredient.cas} ({ingredient.name})")
            self._by_cas[ingredient.cas] = ingredient
            for name in ingredient.names():
                # The first material to claim a synonym keeps it, so that a later row's
                # loose synonym cannot steal an exact material name.
                self._by_name.setdefault(_normalise(name), ingredient)
        for ingredient in ingredients:
            self._by_name[_normalise(ingredient.name)] = ingredient

    def by_cas(self, cas: str) -> Ingredient:
        try:
            return self._by_cas[cas.strip()]
        except KeyError:
            raise KeyError(f"no material with CAS {cas!r} in the catalogue") from None

    def get(self, cas: str) -> Ingredient | None:
        """The material with exactly this CAS number, or None."""
        return self._by_cas.get(cas)

    def find(self, name_or_synonym_or_cas: str) -> Ingredient | None:
        key = name_or_synonym_or_cas.strip()
        return self._by_cas.get(key) or self._by_name.get(_normalise(key))

    def __iter__(self) -> Iterator[Ingredient]:
        return iter(self._by_cas.values())

    def __len__(self) -> int:
        return len(self._by_cas)

    def __contains__(self, cas: object) -> bool:
        return isinstance(cas, str) and cas in self._by_cas

    def filter(
        self,
        tier: Tier | None = None,
        family: str | None = None,
        text: str | None = None,
    ) -> list[Ingredient]:
        wanted_family = family.lower() if family else None
        needle = _normalise(text) if text else None
        return [
            ingredient
            for ingredient in self
            if (tier is None or ingredient.tier == tier)
            and (wanted_family is None or wanted_family in ingredient.families)
            and (needle is None or needle in _searchable_text(ingredient))
        ]

    def families(self) -> set[str]:
        return {family for ingredient in self for family in ingredient.families}


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _searchable_text(ingredient: Ingredient) -> str:
    parts = (*ingredient.names(), ingredient.cas, *ingredient.families, *ingredient.descriptors)
    return _normalise(" | ".join(parts))

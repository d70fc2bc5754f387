"""The catalogue of perfumery materials, loaded from the packaged data file."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

# Read through the fragrance_ai package so data/ needs no __init__.py of its own.
DATA_PACKAGE = "fragrance_ai"
DATA_FILE = "ingredients.yaml"

_CAS_SHAPE = re.compile(r"^(\d{2,7})-(\d{2})-(\d)$")


class CatalogueError(ValueError):
    """A data row is malformed; the message names the row and the field."""


class Tier(StrEnum):
    TOP = "top"
    HEART = "heart"
    BASE = "base"


@dataclass(frozen=True)
class IfraLimit:
    category: str
    # None means prohibited: the allowed level is 0.
    max_percent_in_finished_product: float | None
    source: str
    note: str = ""

    @property
    def allowed_percent(self) -> float:
        return self.max_percent_in_finished_product or 0.0

    @property
    def prohibited(self) -> bool:
        return self.max_percent_in_finished_product is None


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
    # Known to be IFRA-restricted but no figure was verified for the data file, so the
    # catalogue cannot enforce a number; callers must treat it conservatively.
    restricted_unverified: bool = False
    ifra_note: str = ""

    def limit_for(self, category: str) -> IfraLimit | None:
        return next((limit for limit in self.ifra if limit.category == category), None)

    def is_prohibited_in(self, category: str) -> bool:
        limit = self.limit_for(category)
        return limit is not None and limit.prohibited

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
    def __init__(self, ingredients: list[Ingredient]) -> None:
        self._by_cas: dict[str, Ingredient] = {}
        self._by_name: dict[str, Ingredient] = {}
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


@functools.cache
def load_catalogue() -> Catalogue:
    text = resources.files(DATA_PACKAGE).joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    return parse_catalogue(text, source=DATA_FILE)


def load_catalogue_from(path: str | Path) -> Catalogue:
    """Uncached, for tests and for checking a data file before it ships."""
    file = Path(path)
    return parse_catalogue(file.read_text(encoding="utf-8"), source=str(file))


def parse_catalogue(text: str, *, source: str = "<text>") -> Catalogue:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CatalogueError(f"{source}: not valid YAML: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("materials"), list):
        raise CatalogueError(f"{source}: expected a mapping with a 'materials' list")
    ingredients = [
        _parse_row(row, index=index, source=source)
        for index, row in enumerate(document["materials"], start=1)
    ]
    return Catalogue(ingredients)


class _Row:
    """Reads one data row and names the row and field in every error."""

    def __init__(self, raw: Any, *, index: int, source: str) -> None:
        self.source = source
        self.index = index
        if not isinstance(raw, dict):
            raise CatalogueError(f"{source}: row {index}: expected a mapping, got {raw!r}")
        self.raw: dict[str, Any] = raw
        name = raw.get("name")
        self.label = f"row {index} ({name!r})" if isinstance(name, str) else f"row {index}"

    def fail(self, field: str, problem: str) -> CatalogueError:
        return CatalogueError(f"{self.source}: {self.label}: field '{field}': {problem}")

    def text(self, field: str, *, default: str | None = None) -> str:
        value = self.raw.get(field, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, "must be a non-empty string")
        return value.strip()

    def number(self, value: Any, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(field, f"must be a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise self.fail(field, "must be finite")
        return number

    def words(self, field: str, *, required: bool) -> tuple[str, ...]:
        value = self.raw.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(field, "must be a list of non-empty strings")
        if required and not value:
            raise self.fail(field, "must not be empty")
        return tuple(v.strip().lower() for v in value)


def _parse_row(raw: Any, *, index: int, source: str) -> Ingredient:
    row = _Row(raw, index=index, source=source)
    cas = row.raw.get("cas")
    if not isinstance(cas, str) or not is_valid_cas(cas):
        raise row.fail("cas", f"{cas!r} is not a valid CAS number (shape or check digit)")
    tier_value = row.raw.get("tier")
    try:
        tier = Tier(str(tier_value))
    except ValueError:
        raise row.fail("tier", f"{tier_value!r} is not one of top/heart/base") from None
    use = row.raw.get("use")
    if not isinstance(use, list) or len(use) != 2:
        raise row.fail("use", "must be [min, max] percent in the concentrate")
    use_min, use_max = row.number(use[0], "use"), row.number(use[1], "use")
    if not 0 < use_min <= use_max <= 100:
        raise row.fail("use", f"needs 0 < min <= max <= 100, got {use!r}")
    price = row.number(row.raw.get("price_per_kg_eur"), "price_per_kg_eur")
    if price <= 0:
        raise row.fail("price_per_kg_eur", "must be positive")
    natural = row.raw.get("natural")
    if not isinstance(natural, bool):
        raise row.fail("natural", "must be true or false")
    restricted_unverified = row.raw.get("restricted_unverified", False)
    if not isinstance(restricted_unverified, bool):
        raise row.fail("restricted_unverified", "must be true or false")
    ifra_note = row.raw.get("ifra_note", "")
    if not isinstance(ifra_note, str):
        raise row.fail("ifra_note", "must be a string")
    return Ingredient(
        name=row.text("name"),
        synonyms=row.words("synonyms", required=False),
        cas=cas.strip(),
        tier=tier,
        families=row.words("families", required=True),
        descriptors=row.words("descriptors", required=False),
        typical_use_min_percent=use_min,
        typical_use_max_percent=use_max,
        price_per_kg_eur=price,
        price_source=row.text("price_source"),
        natural=natural,
        ifra=_parse_limits(row),
        restricted_unverified=restricted_unverified,
        ifra_note=ifra_note.strip(),
    )


def _parse_limits(row: _Row) -> tuple[IfraLimit, ...]:
    raw_limits = row.raw.get("ifra", [])
    if not isinstance(raw_limits, list):
        raise row.fail("ifra", "must be a list")
    limits: list[IfraLimit] = []
    for position, raw in enumerate(raw_limits, start=1):
        field = f"ifra[{position}]"
        if not isinstance(raw, dict):
            raise row.fail(field, "must be a mapping")
        category = raw.get("category")
        if not isinstance(category, str) or not category.strip():
            raise row.fail(f"{field}.category", "must be a non-empty string such as '4'")
        value = raw.get("max_percent_in_finished_product")
        maximum = None if value is None else row.number(value, f"{field}.max_percent")
        if maximum is not None and not 0 < maximum <= 100:
            raise row.fail(f"{field}.max_percent", "must be in (0, 100]; use null for prohibited")
        source = raw.get("source")
        if not isinstance(source, str) or not source.strip():
            raise row.fail(f"{field}.source", "every figure needs a source")
        note = raw.get("note", "")
        if not isinstance(note, str):
            raise row.fail(f"{field}.note", "must be a string")
        if any(limit.category == category for limit in limits):
            raise row.fail(f"{field}.category", f"category {category} given twice")
        limits.append(IfraLimit(category.strip(), maximum, source.strip(), note.strip()))
    return tuple(limits)

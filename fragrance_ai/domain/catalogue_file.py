"""Reads the packaged data file (`fragrance_ai/data/ingredients.yaml`) into a Catalogue,
validating every row as it goes: a bad row stops the load with a message naming the row and
the field, so wrong data never reaches a compliance verdict."""

from __future__ import annotations

import functools
import math
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from fragrance_ai.domain.catalogue import (
    Catalogue,
    CatalogueError,
    CmrClass,
    Constituent,
    EuAllergen,
    EuLimit,
    EuScope,
    IfraLimit,
    IfraStandardType,
    Ingredient,
    Substance,
    Tier,
    Volatility,
    is_valid_cas,
)
from fragrance_ai.domain.eu_annex_file import EuAnnexes, load_eu_annexes
from fragrance_ai.domain.eu_register import EuMerge, apply_eu_annexes
from fragrance_ai.domain.ifra_register import (
    IFRA_OVERVIEW_FILE,
    LEVEL_UNKNOWN_SUFFIX,
    level_unknown,
    link_ifra_standards,
    parse_ifra_overview,
)
from fragrance_ai.domain.products import IFRA_CATEGORIES
from fragrance_ai.domain.yaml_text import parse_yaml

# Read through the fragrance_ai package so data/ needs no __init__.py of its own.
DATA_PACKAGE = "fragrance_ai"
DATA_FILE = "ingredients.yaml"

_SUBSTANCE_ID = re.compile(r"^[a-z0-9_]+$")


@functools.cache
def load_catalogue() -> Catalogue:
    return parse_catalogue(
        _data_file_text(),
        source=DATA_FILE,
        ifra_overview=load_ifra_overview(),
        eu_annexes=load_eu_annexes(),
    )


def _data_file_text() -> str:
    return resources.files(DATA_PACKAGE).joinpath("data", DATA_FILE).read_text(encoding="utf-8")


@functools.cache
def eu_merge() -> EuMerge:
    """What became of every Annex II and III entry (encoded, excepted, not relevant, and
    why), as the packaged catalogue's load merges them: for coverage and its tests."""
    before = parse_catalogue(
        _data_file_text(), source=DATA_FILE, ifra_overview=load_ifra_overview()
    )
    annexes = load_eu_annexes()
    return apply_eu_annexes(
        list(before.substances.values()),
        annexes.annex_ii,
        annexes.annex_iii,
        annexes.encoded,
        material_cas=[material.cas for material in before],
    )


@functools.cache
def load_ifra_overview() -> str:
    """IFRA's overview of every Standard (CSV), merged into the catalogue's substances."""
    overview = resources.files(DATA_PACKAGE).joinpath("data", "regulatory", IFRA_OVERVIEW_FILE)
    return overview.read_text(encoding="utf-8")


def load_catalogue_from(path: str | Path) -> Catalogue:
    """Uncached, for tests and for checking a data file before it ships."""
    file = Path(path)
    return parse_catalogue(file.read_text(encoding="utf-8"), source=str(file))


def parse_catalogue(
    text: str,
    *,
    source: str = "<text>",
    ifra_overview: str | None = None,
    eu_annexes: EuAnnexes | None = None,
) -> Catalogue:
    try:
        document = parse_yaml(text)
    except yaml.YAMLError as error:
        raise CatalogueError(f"{source}: not valid YAML: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("materials"), list):
        raise CatalogueError(f"{source}: expected a mapping with a 'materials' list")
    _expand_sources(document)
    raw_substances = document.get("substances", [])
    if not isinstance(raw_substances, list):
        raise CatalogueError(f"{source}: 'substances' must be a list")
    substances = [
        _parse_substance(_Row(raw, index=index, source=source, kind="substance"))
        for index, raw in enumerate(raw_substances, start=1)
    ]
    by_id: dict[str, Substance] = {}
    for substance in substances:
        if substance.id in by_id:
            raise CatalogueError(f"{source}: duplicate substance id {substance.id!r}")
        by_id[substance.id] = substance
    material_cas = [str(m.get("cas")) for m in document["materials"] if isinstance(m, dict)]
    if ifra_overview is not None:  # every IFRA Standard, linked (ifra_register)
        linked = link_ifra_standards(
            list(by_id.values()), parse_ifra_overview(ifra_overview), material_cas
        )
        by_id = {substance.id: substance for substance in linked}
    if eu_annexes is not None:  # EU Annexes II and III, after IFRA (eu_register)
        merged = apply_eu_annexes(
            list(by_id.values()),
            eu_annexes.annex_ii,
            eu_annexes.annex_iii,
            eu_annexes.encoded,
            material_cas=material_cas,
        )
        by_id = {substance.id: substance for substance in merged.substances}
    rows = [
        _Row(raw, index=index, source=source, kind="row")
        for index, raw in enumerate(document["materials"], start=1)
    ]
    ingredients = [_parse_material(row, by_id) for row in rows]
    return Catalogue(ingredients, list(by_id.values()))


def _expand_sources(document: dict[str, Any]) -> None:
    """A `source` (or `price_source`) that names a key of the top-level `sources` map is
    replaced by that text, so a long citation is written once."""
    sources = document.get("sources") or {}
    if not isinstance(sources, dict):
        raise CatalogueError("'sources' must be a mapping of key to citation text")

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("source", "price_source") and isinstance(value, str):
                    node[key] = sources.get(value, value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document.get("substances"))
    walk(document.get("materials"))


class _Row:
    """Reads one data row and names the row and field in every error."""

    def __init__(self, raw: Any, *, index: int, source: str, kind: str) -> None:
        self.source = source
        self.index = index
        if not isinstance(raw, dict):
            raise CatalogueError(f"{source}: {kind} {index}: expected a mapping, got {raw!r}")
        self.raw: dict[str, Any] = raw
        name = raw.get("name")
        self.label = f"{kind} {index} ({name!r})" if isinstance(name, str) else f"{kind} {index}"

    def fail(self, field: str, problem: str) -> CatalogueError:
        return CatalogueError(f"{self.source}: {self.label}: field '{field}': {problem}")

    def text(self, field: str, *, default: str | None = None) -> str:
        value = self.raw.get(field, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, "must be a non-empty string")
        return value.strip()

    def text_in(self, raw: dict[str, Any], key: str, field: str, problem: str) -> str:
        """A required non-empty string of a nested mapping, stripped."""
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, problem)
        return value.strip()

    def limit_percent_in(
        self, raw: dict[str, Any], key: str, field: str, none: str
    ) -> float | None:
        """A limit in percent of the finished product, in (0, 100], or None (its meaning,
        prohibited, is the caller's: `none` says how to write it)."""
        value = raw.get(key)
        if value is None:
            return None
        maximum = self.number(value, field)
        if not 0 < maximum <= 100:
            raise self.fail(field, f"must be in (0, 100]; {none}")
        return maximum

    def optional_text(self, field: str) -> str:
        value = self.raw.get(field, "")
        if not isinstance(value, str):
            raise self.fail(field, "must be a string")
        return value.strip()

    def flag(self, field: str, raw: dict[str, Any] | None = None) -> bool:
        value = (raw if raw is not None else self.raw).get(field, False)
        if not isinstance(value, bool):
            raise self.fail(field, "must be true or false")
        return value

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

    def words_as_written(self, field: str) -> tuple[str, ...]:
        """An optional list of sentences, kept as written."""
        value = self.raw.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(field, "must be a list of non-empty strings")
        return tuple(" ".join(v.split()) for v in value)

    def cas_numbers(self, field: str) -> tuple[str, ...]:
        value = self.raw.get(field)
        values = value if isinstance(value, list) else [value]
        numbers = tuple(v.strip() for v in values if isinstance(v, str) and is_valid_cas(v))
        if not values or len(numbers) != len(values):
            raise self.fail(field, f"{value!r} is not a valid CAS number (shape or check digit)")
        return numbers


def _parse_material(row: _Row, substances: dict[str, Substance]) -> Ingredient:
    raw_cas = row.raw.get("cas")
    if not isinstance(raw_cas, str) or not is_valid_cas(raw_cas):
        raise row.fail("cas", f"{raw_cas!r} is not a valid CAS number (shape or check digit)")
    cas = raw_cas.strip()
    tier_value = row.raw.get("tier")
    try:
        tier = Tier(str(tier_value))
    except ValueError:
        raise row.fail("tier", f"{tier_value!r} is not one of top/heart/base") from None
    volatility_value = row.raw.get("volatility", _DEFAULT_VOLATILITY[tier].value)
    try:
        volatility = Volatility(str(volatility_value))
    except ValueError:
        allowed = "/".join(v.value for v in Volatility)
        raise row.fail("volatility", f"{volatility_value!r} is not one of {allowed}") from None
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
    name = row.text("name")
    inline_limits = _parse_limits(row, row.raw.get("ifra", []), "ifra")
    own = [s for s in substances.values() if cas in s.cas]
    if inline_limits:
        if own:
            raise row.fail("ifra", f"CAS {cas} is already a substance with its own limits")
        own = [
            Substance(
                id=f"cas_{cas}",
                name=name,
                cas=(cas,),
                ifra_standard=IfraStandardType.RESTRICTION,
                limits=inline_limits,
                ifra_note="",
                allergen=None,
            )
        ]
    constituents = _parse_constituents(row, substances)
    contributions = [(substance, 1.0) for substance in own] + [
        (c.substance, c.percent / 100) for c in constituents
    ]
    return Ingredient(
        name=name,
        synonyms=row.words("synonyms", required=False),
        cas=cas,
        tier=tier,
        families=row.words("families", required=True),
        descriptors=row.words("descriptors", required=False),
        typical_use_min_percent=use_min,
        typical_use_max_percent=use_max,
        price_per_kg_eur=price,
        price_source=row.text("price_source"),
        natural=natural,
        ifra=tuple(limit for substance in own for limit in substance.limits),
        ifra_note=row.optional_text("ifra_note"),
        note=row.optional_text("note"),
        volatility=volatility,
        constituents=constituents,
        contributions=tuple(contributions),
    )


_DEFAULT_VOLATILITY = {
    Tier.TOP: Volatility.HIGH,
    Tier.HEART: Volatility.MEDIUM,
    Tier.BASE: Volatility.LOW,
}


def _parse_constituents(row: _Row, substances: dict[str, Substance]) -> tuple[Constituent, ...]:
    raw_list = row.raw.get("constituents", [])
    if not isinstance(raw_list, list):
        raise row.fail("constituents", "must be a list")
    constituents: list[Constituent] = []
    for position, raw in enumerate(raw_list, start=1):
        field_name = f"constituents[{position}]"
        if not isinstance(raw, dict):
            raise row.fail(field_name, "must be a mapping")
        substance = substances.get(str(raw.get("substance")))
        if substance is None:
            raise row.fail(f"{field_name}.substance", f"unknown substance {raw.get('substance')!r}")
        if raw.get("percent") == "unknown":
            # Present at a level nobody gave: counted at the material's own level, under
            # limits that read as unreadable, so the verdict is cannot_certify (ifra_register).
            substance = substances.setdefault(
                substance.id + LEVEL_UNKNOWN_SUFFIX, level_unknown(substance)
            )
            percent = 100.0
        else:
            percent = row.number(raw.get("percent"), f"{field_name}.percent")
        if not 0 < percent <= 100:
            raise row.fail(f"{field_name}.percent", "must be in (0, 100] or unknown")
        source = row.text_in(raw, "source", f"{field_name}.source", "every figure needs a source")
        uncertain = row.flag("uncertain", raw)
        constituents.append(Constituent(substance, percent, source, uncertain))
    known = (c for c in constituents if not c.substance.id.endswith(LEVEL_UNKNOWN_SUFFIX))
    if sum(c.percent for c in known) > 100 + 1e-9:
        raise row.fail("constituents", "percentages add up to more than 100")
    return tuple(constituents)


def _parse_substance(row: _Row) -> Substance:
    substance_id = row.text("id")
    if not _SUBSTANCE_ID.match(substance_id):
        raise row.fail("id", "must be lower-case letters, digits and underscores")
    standard_value = row.raw.get("ifra_standard")
    try:
        standard = None if standard_value is None else IfraStandardType(str(standard_value))
    except ValueError:
        raise row.fail("ifra_standard", f"{standard_value!r} is not a standard type") from None
    raw_ifra = row.raw.get("ifra", [])
    searched = ""
    phototoxic = row.flag("phototoxic")
    if isinstance(raw_ifra, dict):
        limits, searched = _parse_limit_table(row, raw_ifra)
        phototoxic = phototoxic or row.flag("phototoxic", raw_ifra)
    else:
        limits = _parse_limits(row, raw_ifra, "ifra")
    if limits and standard is None:
        raise row.fail("ifra_standard", "limits need the type of standard they come from")
    allergen_raw = row.raw.get("eu_allergen")
    allergen: EuAllergen | None = None
    if allergen_raw is not None:
        if not isinstance(allergen_raw, dict) or not isinstance(allergen_raw.get("source"), str):
            raise row.fail("eu_allergen", "must be a mapping with a source")
        allergen = EuAllergen(
            source=allergen_raw["source"].strip(),
            uncertain=row.flag("uncertain", allergen_raw),
            note=str(allergen_raw.get("note", "")).strip(),
            inci=str(allergen_raw.get("inci", "")).strip(),
            added_2023=row.flag("added_2023", allergen_raw),
        )
    eu_limits = _parse_eu_limits(row)
    cmr = _parse_cmr(row)
    if standard is None and allergen is None and not eu_limits and cmr is None:
        raise row.fail(
            "ifra_standard", "needs an IFRA standard, an EU entry or a CLP classification"
        )
    if standard in (IfraStandardType.RESTRICTION, IfraStandardType.PROHIBITION):
        _require_every_category(row, limits, searched)
    return Substance(
        id=substance_id,
        name=row.text("name"),
        cas=row.cas_numbers("cas") if row.raw.get("cas") is not None else (),
        ifra_standard=standard,
        limits=limits,
        ifra_note=row.optional_text("ifra_note"),
        allergen=allergen,
        ifra_searched=searched,
        phototoxic=phototoxic,
        eu_limits=eu_limits,
        cmr=cmr,
        conditions=row.words_as_written("conditions"),
    )


# A cell of the compact table: a number (percent in the finished product) or one of these.
_CELL_WORDS = {"prohibited", "no_restriction", "see_note", "not_read"}


def _parse_limit_table(row: _Row, raw: dict[str, Any]) -> tuple[tuple[IfraLimit, ...], str]:
    """The compact form: one source and amendment for a standard's whole table,
    `limits: {category: value}`, with per-category `notes`, `amendments` and `sources`
    where a figure was read elsewhere; or `no_figure_found: <what was searched>`."""
    searched = raw.get("no_figure_found", "")
    if searched:
        if not isinstance(searched, str):
            raise row.fail("ifra.no_figure_found", "must say what was searched")
        return (), searched.strip()
    source = row.text_in(raw, "source", "ifra.source", "every figure needs a source")
    cells = raw.get("limits")
    if not isinstance(cells, dict) or not cells:
        raise row.fail("ifra.limits", "must map IFRA categories to figures")
    notes, amendments, sources = (raw.get(key) or {} for key in ("notes", "amendments", "sources"))
    amendment = str(raw.get("amendment", "")).strip()
    uncertain = row.flag("uncertain", raw)
    uncertain_categories = {str(c) for c in raw.get("uncertain_categories") or []}
    limits: list[IfraLimit] = []
    for category_key, value in cells.items():
        category = str(category_key)
        if category not in IFRA_CATEGORIES:
            raise row.fail(f"ifra.limits.{category}", "is not an IFRA category")
        field = f"ifra.limits.{category}"
        if isinstance(value, str):
            if value not in _CELL_WORDS:
                raise row.fail(field, f"{value!r} is not a number or one of {sorted(_CELL_WORDS)}")
            maximum = None
        else:
            maximum = row.number(value, field)
            if not 0 < maximum <= 100:
                raise row.fail(field, "must be in (0, 100]; write prohibited for a ban")
        limits.append(
            IfraLimit(
                category,
                maximum,
                str(sources.get(category, source)).strip(),
                str(notes.get(category, "")).strip(),
                uncertain=uncertain or category in uncertain_categories,
                unrestricted=value == "no_restriction",
                amendment=str(amendments.get(category, amendment)).strip(),
                unreadable=value in ("see_note", "not_read"),
            )
        )
    # Where part of the table came from an older reading, what was searched for the rest.
    return tuple(limits), str(raw.get("searched_for_the_rest", "")).strip()


def _require_every_category(row: _Row, limits: tuple[IfraLimit, ...], searched: str) -> None:
    """A restriction or prohibition carries a figure (or an explicit cell word) for every
    IFRA category, or says what was searched: a gap is never silent."""
    if searched and not limits:
        return
    present = {limit.category for limit in limits}
    missing = [category for category in IFRA_CATEGORIES if category not in present]
    if missing:
        raise row.fail(
            "ifra",
            f"no figure for categories {', '.join(missing)}: give one, 'not_read', or "
            "no_figure_found with what was searched",
        )


def _parse_eu_limits(row: _Row) -> tuple[EuLimit, ...]:
    raw_list = row.raw.get("eu", [])
    if not isinstance(raw_list, list):
        raise row.fail("eu", "must be a list")
    limits: list[EuLimit] = []
    for position, raw in enumerate(raw_list, start=1):
        field = f"eu[{position}]"
        if not isinstance(raw, dict):
            raise row.fail(field, "must be a mapping")
        try:
            scope = EuScope(str(raw.get("scope", "all")))
        except ValueError:
            allowed = "/".join(s.value for s in EuScope)
            raise row.fail(f"{field}.scope", f"must be one of {allowed}") from None
        maximum = row.limit_percent_in(
            raw, "max_percent_in_finished_product", f"{field}.max_percent", "null for a ban"
        )
        limits.append(
            EuLimit(
                rule=row.text_in(raw, "rule", f"{field}.rule", "must name the annex and entry"),
                scope=scope,
                max_percent_in_finished_product=maximum,
                source=row.text_in(raw, "source", f"{field}.source", "every figure needs a source"),
                uncertain=row.flag("uncertain", raw),
                note=str(raw.get("note", "")).strip(),
            )
        )
    return tuple(limits)


def _parse_cmr(row: _Row) -> CmrClass | None:
    raw = row.raw.get("cmr")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise row.fail("cmr", "must be a mapping")
    return CmrClass(
        classification=row.text_in(
            raw, "classification", "cmr.classification", "must name the CLP class, e.g. 'Repr. 1B'"
        ),
        source=row.text_in(raw, "source", "cmr.source", "every classification needs a source"),
        public_mixture_limit_percent=row.limit_percent_in(
            raw, "public_mixture_limit_percent", "cmr.limit", "null for category 2"
        ),
        uncertain=row.flag("uncertain", raw),
    )


def _parse_limits(row: _Row, raw_limits: Any, field_name: str) -> tuple[IfraLimit, ...]:
    if not isinstance(raw_limits, list):
        raise row.fail(field_name, "must be a list")
    limits: list[IfraLimit] = []
    for position, raw in enumerate(raw_limits, start=1):
        field = f"{field_name}[{position}]"
        if not isinstance(raw, dict):
            raise row.fail(field, "must be a mapping")
        category = raw.get("category")
        if not isinstance(category, str) or not category.strip():
            raise row.fail(f"{field}.category", "must be a non-empty string such as '4'")
        unrestricted = row.flag("unrestricted", raw)
        maximum = row.limit_percent_in(
            raw,
            "max_percent_in_finished_product",
            f"{field}.max_percent",
            "use null for prohibited",
        )
        if unrestricted and maximum is not None:
            raise row.fail(f"{field}.unrestricted", "an unrestricted category has no figure")
        source = row.text_in(raw, "source", f"{field}.source", "every figure needs a source")
        note = raw.get("note", "")
        if not isinstance(note, str):
            raise row.fail(f"{field}.note", "must be a string")
        if any(limit.category == category for limit in limits):
            raise row.fail(f"{field}.category", f"category {category} given twice")
        limits.append(
            IfraLimit(
                category.strip(),
                maximum,
                source,
                note.strip(),
                uncertain=row.flag("uncertain", raw),
                unrestricted=unrestricted,
                amendment=str(raw.get("amendment", "")).strip(),
            )
        )
    return tuple(limits)

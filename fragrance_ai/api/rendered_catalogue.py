"""The ingredient catalogue as JSON rendered once per process.

The catalogue changes only with a release, so every material is rendered once in both views
(the full record and the summary) on first use, and a list is the join of its materials'
bytes: the same bytes FastAPI would write for the list (pydantic's compact JSON), without
validating or serialising anything per request.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from pydantic import TypeAdapter

from fragrance_ai.api.http_cache import REVALIDATE, Rendered, RenderedStore, rendered
from fragrance_ai.api.schemas.design import (
    ConstituentView,
    IngredientSummaryView,
    IngredientView,
    RegulatedSubstanceView,
)
from fragrance_ai.domain.catalogue import Catalogue, Ingredient, Tier

View = Literal["full", "summary"]

_FULL = TypeAdapter(IngredientView)
_SUMMARY = TypeAdapter(IngredientSummaryView)

# Lists as asked: the whole catalogue in full is 3 MB, a search a few kilobytes.
_LISTS_MAX_ENTRIES = 1024
_LISTS_MAX_BYTES = 64 * 2**20


@dataclass(frozen=True)
class ListQuery:
    tier: Tier | None
    family: str | None
    q: str | None
    view: View
    limit: int | None
    offset: int


class RenderedCatalogue:
    """Only the event loop calls it, except `render_list` (see there)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue
        self._bodies: dict[View, dict[str, bytes]] = {
            "full": {
                item.cas: _FULL.dump_json(ingredient_view(item), by_alias=True)
                for item in catalogue
            },
            "summary": {
                item.cas: _SUMMARY.dump_json(summary_view(item), by_alias=True)
                for item in catalogue
            },
        }
        self._materials = {
            cas: rendered(body, REVALIDATE) for cas, body in self._bodies["full"].items()
        }
        self._lists: RenderedStore[ListQuery] = RenderedStore(
            max_entries=_LISTS_MAX_ENTRIES, max_bytes=_LISTS_MAX_BYTES
        )

    def material(self, cas: str) -> Rendered | None:
        return self._materials.get(cas)

    def listed(self, query: ListQuery) -> Rendered | None:
        """The list as rendered before, if it was and is still kept."""
        return self._lists.get(query)

    def keep(self, query: ListQuery, body: Rendered) -> None:
        self._lists.put(query, body)

    def render_list(self, query: ListQuery) -> Rendered:
        """Touches nothing shared: runs in the thread pool (the full catalogue is 3 MB to
        join and hash)."""
        items = self._catalogue.filter(tier=query.tier, family=query.family, text=query.q)
        end = None if query.limit is None else query.offset + query.limit
        bodies = self._bodies[query.view]
        # Compact JSON: a list is its items' JSON joined by commas, nothing else.
        body = b"[" + b",".join(bodies[item.cas] for item in items[query.offset : end]) + b"]"
        return rendered(body, REVALIDATE)


def summary_view(item: Ingredient) -> IngredientSummaryView:
    return IngredientSummaryView(
        name=item.name,
        synonyms=list(item.synonyms),
        cas=item.cas,
        tier=item.tier.value,
        families=list(item.families),
        descriptors=list(item.descriptors),
        price_per_kg_eur=item.price_per_kg_eur,
        natural=item.natural,
    )


def ingredient_view(item: Ingredient) -> IngredientView:
    return IngredientView(
        name=item.name,
        synonyms=list(item.synonyms),
        cas=item.cas,
        tier=item.tier.value,
        volatility=item.volatility.value,
        families=list(item.families),
        descriptors=list(item.descriptors),
        typical_use_percent=(item.typical_use_min_percent, item.typical_use_max_percent),
        price_per_kg_eur=item.price_per_kg_eur,
        price_source=item.price_source,
        natural=item.natural,
        ifra=[asdict(limit) for limit in item.ifra],
        constituents=[
            ConstituentView(
                substance=c.substance.name,
                cas=c.substance.label_cas,
                percent=c.percent,
                source=c.source,
                uncertain=c.uncertain,
            )
            for c in item.constituents
        ],
        eu_allergens=[s.name for s, _ in item.contributions if s.allergen is not None],
        regulated_substances=[
            RegulatedSubstanceView(
                id=substance.id,
                name=substance.name,
                cas=list(substance.cas),
                percent_in_material=round(fraction * 100, 6),
                ifra_standard=substance.ifra_standard,
                ifra_limits=[asdict(limit) for limit in substance.limits],
                ifra_no_figure_found=substance.ifra_searched,
                phototoxic=substance.phototoxic,
                eu_rules=[asdict(rule) for rule in substance.eu_limits],
                cmr=None if substance.cmr is None else asdict(substance.cmr),
                eu_allergen_inci=None
                if substance.allergen is None
                else substance.allergen.inci or substance.name,
            )
            for substance, fraction in item.contributions
        ],
        note=item.note,
    )

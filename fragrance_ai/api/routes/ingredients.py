from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError

from fragrance_ai.api.deps import CatalogueDep
from fragrance_ai.api.schemas import (
    ConstituentView,
    IngredientSummaryView,
    IngredientView,
    RegulatedSubstanceView,
)
from fragrance_ai.domain.catalogue import Ingredient, Tier, is_valid_cas

router = APIRouter(prefix="/v1/ingredients", tags=["ingredients"])

CAS_PATTERN = r"^\d{2,7}-\d{2}-\d$"


@router.get("", response_model=list[IngredientView] | list[IngredientSummaryView])
async def read_ingredients(
    catalogue: CatalogueDep,
    tier: Tier | None = None,
    family: str | None = None,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Text in the name, a synonym, the CAS number, a family or a descriptor.",
        ),
    ] = None,
    view: Annotated[
        Literal["full", "summary"],
        Query(
            description="summary: name, synonyms, CAS, tier, families, descriptors and price "
            "only (a search list; the full record is about a hundred times larger)."
        ),
    ] = "full",
) -> list[IngredientView] | list[IngredientSummaryView]:
    items = catalogue.filter(tier=tier, family=family, text=q)
    if view == "summary":
        return [summary_view(item) for item in items]
    return [ingredient_view(item) for item in items]


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


@router.get("/{cas}", response_model=IngredientView)
async def read_ingredient(
    cas: Annotated[str, Path(pattern=CAS_PATTERN, examples=["8007-75-8"])],
    catalogue: CatalogueDep,
) -> IngredientView:
    if not is_valid_cas(cas):
        raise RequestValidationError(
            [
                {
                    "type": "cas_check_digit",
                    "loc": ("path", "cas"),
                    "msg": f"{cas} is not a valid CAS number: its check digit does not match",
                    "input": cas,
                }
            ]
        )
    if cas not in catalogue:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no material with CAS {cas}")
    return ingredient_view(catalogue.by_cas(cas))


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

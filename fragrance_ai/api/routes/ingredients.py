from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from fragrance_ai.api.deps import CatalogueDep
from fragrance_ai.api.schemas import IngredientView
from fragrance_ai.domain.catalogue import Ingredient, Tier

router = APIRouter(prefix="/v1/ingredients", tags=["ingredients"])


@router.get("", response_model=list[IngredientView])
def read_ingredients(
    catalogue: CatalogueDep,
    tier: Tier | None = None,
    family: str | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Text in name or notes")] = None,
) -> list[IngredientView]:
    return [_view(item) for item in catalogue.filter(tier=tier, family=family, text=q)]


def _view(item: Ingredient) -> IngredientView:
    return IngredientView(
        name=item.name,
        synonyms=list(item.synonyms),
        cas=item.cas,
        tier=item.tier.value,
        families=list(item.families),
        descriptors=list(item.descriptors),
        typical_use_percent=(item.typical_use_min_percent, item.typical_use_max_percent),
        price_per_kg_eur=item.price_per_kg_eur,
        price_source=item.price_source,
        natural=item.natural,
        ifra=[asdict(limit) for limit in item.ifra],
    )

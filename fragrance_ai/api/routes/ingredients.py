from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import State

from fragrance_ai.api.http_cache import CONDITIONAL_RESPONSES, answer
from fragrance_ai.api.middleware.auth import READ_OR_WRITE
from fragrance_ai.api.rendered_catalogue import ListQuery, RenderedCatalogue, View
from fragrance_ai.api.schemas.design import IngredientSummaryView, IngredientView
from fragrance_ai.domain.catalogue import Catalogue, Tier, is_valid_cas

router = APIRouter(prefix="/v1/ingredients", tags=["ingredients"], dependencies=[READ_OR_WRITE])

CAS_PATTERN = r"^\d{2,7}-\d{2}-\d$"


async def rendered_catalogue(state: State) -> RenderedCatalogue:
    """The app's rendered catalogue, made by the first request that needs it. Not a
    dependency: each one FastAPI resolves costs the hot path more than the answer itself."""
    found: RenderedCatalogue | None = getattr(state, "rendered_catalogue", None)
    if found is None:
        found = await run_in_threadpool(_render_once, state, state.runtime.catalogue)
    return found


_rendering = threading.Lock()


def _render_once(state: State, catalogue: Catalogue) -> RenderedCatalogue:
    # Requests that arrive while it renders (a tenth of a second, more while the catalogue
    # loads) wait for that one instead of rendering it again each.
    with _rendering:
        found: RenderedCatalogue | None = getattr(state, "rendered_catalogue", None)
        if found is None:
            found = RenderedCatalogue(catalogue)
            state.rendered_catalogue = found
        return found


@router.get(
    "",
    response_model=list[IngredientView] | list[IngredientSummaryView],
    responses=CONDITIONAL_RESPONSES,
)
async def read_ingredients(
    *,
    request: Request,
    tier: Tier | None = None,
    family: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Text in the name, a synonym, the CAS number, a family or a descriptor.",
        ),
    ] = None,
    view: Annotated[
        View,
        Query(
            description="summary: name, synonyms, CAS, tier, families, descriptors and price "
            "only (a search list; the full record is about a hundred times larger)."
        ),
    ] = "full",
    limit: Annotated[
        int | None,
        Query(ge=1, le=1000, description="At most this many materials; all when omitted."),
    ] = None,
    offset: Annotated[
        int, Query(ge=0, le=10_000, description="Materials to skip, in catalogue order.")
    ] = 0,
) -> Response:
    """The catalogue changes only with a release: answered from JSON rendered once, with a
    strong ETag (304 to a matching If-None-Match)."""
    catalogue = await rendered_catalogue(request.app.state)
    query = ListQuery(tier=tier, family=family, q=q, view=view, limit=limit, offset=offset)
    found = catalogue.listed(query)
    if found is None:
        found = await run_in_threadpool(catalogue.render_list, query)
        catalogue.keep(query, found)
    request.app.state.rendered_reads.remember(request.scope, found)
    return answer(request, found)


@router.get("/{cas}", response_model=IngredientView, responses=CONDITIONAL_RESPONSES)
async def read_ingredient(
    cas: Annotated[str, Path(pattern=CAS_PATTERN, examples=["8007-75-8"])],
    request: Request,
) -> Response:
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
    found = (await rendered_catalogue(request.app.state)).material(cas)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no material with CAS {cas}")
    request.app.state.rendered_reads.remember(request.scope, found)
    return answer(request, found)

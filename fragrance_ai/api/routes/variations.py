"""Variations of a stored formula, proposed by the active policy for a perfumer to choose
from (POST /v1/feedback records the choice)."""

from __future__ import annotations

import secrets
import uuid

from fastapi import APIRouter, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError

from fragrance_ai.api.deps import ActiveModelsDep, CatalogueDep, DatabaseDep, RuntimeDep
from fragrance_ai.api.formula_lines import line_views
from fragrance_ai.api.middleware.auth import READ_OR_WRITE
from fragrance_ai.api.request_types import MAX_SEED
from fragrance_ai.api.schemas.training import (
    ModelRef,
    Problem,
    VariationRequest,
    VariationSetView,
    VariationView,
)
from fragrance_ai.db.models import Policy, RewardModel
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.training import variations
from fragrance_ai.training.variations import (
    NoSuchFormula,
    NoSuchVariationSet,
    NoVariation,
    ProposedSet,
)

router = APIRouter(tags=["learning"], dependencies=[READ_OR_WRITE])


@router.post(
    "/v1/formulas/{formula_id}/variations",
    status_code=status.HTTP_201_CREATED,
    response_model=VariationSetView,
    responses={
        404: {"model": Problem, "description": "No such formula."},
        409: {
            "model": Problem,
            "description": "The formula allows no variation (materials outside the catalogue, "
            "or no edit leads to a compliant formula).",
        },
        422: {"description": "A malformed body, or n above rl.max_variations."},
    },
)
async def propose(
    formula_id: uuid.UUID,
    body: VariationRequest,
    *,
    database: DatabaseDep,
    runtime: RuntimeDep,
    models: ActiveModelsDep,
    response: Response,
) -> VariationSetView:
    """Up to `n` distinct compliant variations of the formula, each one edit (raise, lower,
    swap, add or remove a material of one family) drawn from the active policy, repaired to
    compliance and stored as a formula whose parent is this one. The same seed draws the
    same variations again while the same models serve."""
    most = runtime.settings.rl.max_variations
    if body.n > most:
        raise RequestValidationError(
            [
                {
                    "type": "less_than_equal",
                    "loc": ("body", "n"),
                    "msg": f"Input should be less than or equal to {most}",
                    "input": body.n,
                }
            ]
        )
    # Drawn when not given, and answered: the same seed draws the same variations again.
    seed = body.seed if body.seed is not None else secrets.randbelow(MAX_SEED + 1)
    try:
        view = await database.run(
            lambda session: _view(
                variations.propose(
                    session,
                    runtime,
                    models,
                    formula_id,
                    count=body.n,
                    include_parent=body.include_parent,
                    seed=seed,
                    user_ref=body.user,
                ),
                runtime.catalogue,
            )
        )
    except NoSuchFormula as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(error)) from None
    except NoVariation as error:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from None
    response.headers["Location"] = f"/v1/variation-sets/{view.variation_set_id}"
    return view


@router.get(
    "/v1/variation-sets/{set_id}",
    response_model=VariationSetView,
    responses={404: {"model": Problem, "description": "No such variation set."}},
)
async def read_set(
    set_id: uuid.UUID, database: DatabaseDep, catalogue: CatalogueDep
) -> VariationSetView:
    try:
        return await database.run(
            lambda session: _view(variations.read_set(session, set_id), catalogue)
        )
    except NoSuchVariationSet as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(error)) from None


def _view(proposed: ProposedSet, catalogue: Catalogue) -> VariationSetView:
    variation_set = proposed.variation_set
    views = []
    for member in variation_set.members:
        row = proposed.formulas[member.formula_id]
        search = row.search or {}
        views.append(
            VariationView(
                formula_id=row.id,
                action=member.action,
                probability=member.probability,
                uncertainty=member.uncertainty,
                repair_moved_percent=float(search.get("repair_moved_percent", 0.0)),
                cost_per_kg_eur=row.cost_per_kg_eur,
                compliant=row.compliant,
                verdict=str(row.compliance.get("verdict", "")),
                pyramid=row.pyramid,
                lines=line_views(row.lines, row.product, catalogue),
            )
        )
    return VariationSetView(
        variation_set_id=variation_set.id,
        parent_id=variation_set.parent_formula_id,
        parent_offered=variation_set.parent_offered,
        policy=_ref(proposed.policy),
        reward_model=_ref(proposed.reward_model),
        seed=variation_set.seed,
        variations=views,
        warnings=proposed.warnings,
        chosen_id=proposed.chosen_id,
        created_at=variation_set.created_at,
    )


def _ref(row: Policy | RewardModel | None) -> ModelRef | None:
    return None if row is None else ModelRef(id=row.id, version=row.version)

"""Variations of a stored formula, proposed by the active policy for a perfumer to choose
from (POST /v1/feedback records the choice)."""

from __future__ import annotations

import logging
import secrets
import uuid
from typing import TypeVar

import numpy as np
from fastapi import APIRouter, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.orm import Session

from fragrance_ai.api.active_models import ActiveModels
from fragrance_ai.api.deps import ActiveModelsDep, DatabaseDep, RuntimeDep
from fragrance_ai.api.middleware.auth import READ_OR_WRITE
from fragrance_ai.api.request_types import MAX_SEED
from fragrance_ai.api.schemas.design import FormulaLineView
from fragrance_ai.api.schemas.training import (
    ModelRef,
    Problem,
    VariationRequest,
    VariationSetView,
    VariationView,
)
from fragrance_ai.db.models import Formula, Policy, RewardModel, VariationSet
from fragrance_ai.db.repositories import as_domain_formula
from fragrance_ai.db.training import (
    choice_for,
    formulas_by_id,
    read_variation_set,
    save_variation_set,
)
from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.rl.features import BriefContext
from fragrance_ai.rl.materials import material_table
from fragrance_ai.rl.proposals import propose_variations
from fragrance_ai.runtime import Runtime

router = APIRouter(tags=["learning"], dependencies=[READ_OR_WRITE])
log = logging.getLogger(__name__)
M = TypeVar("M", Policy, RewardModel)


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
    view = await database.run(lambda session: _propose(session, runtime, models, formula_id, body))
    response.headers["Location"] = f"/v1/variation-sets/{view.variation_set_id}"
    return view


def _propose(
    session: Session,
    runtime: Runtime,
    models: ActiveModels,
    formula_id: uuid.UUID,
    body: VariationRequest,
) -> VariationSetView:
    parent = session.get(Formula, formula_id)
    if parent is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no formula {formula_id}")
    catalogue = runtime.catalogue
    outside = [line.name for line in parent.lines if line.cas not in catalogue]
    if outside:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail="variations are proposed for catalogue formulas only; not in the "
            f"catalogue: {', '.join(outside)}",
        )
    table = material_table(catalogue)
    served = models.current(session, table)
    seed = body.seed if body.seed is not None else secrets.randbelow(MAX_SEED + 1)
    proposals = propose_variations(
        table,
        as_domain_formula(parent),
        BriefContext.of(table, _brief_of(parent)),
        count=body.n,
        rng=np.random.default_rng(seed),
        policy=served.policy.model,
        reward=served.reward.model,
        exploration=runtime.settings.rl.exploration,
    )
    if not proposals:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"formula {formula_id} allows no variation: no edit of it leads to a "
            "new compliant formula",
        )
    variation_set = save_variation_set(
        session,
        parent=parent,
        proposals=proposals,
        catalogue=catalogue,
        policy=None
        if served.policy.used_id is None
        else session.get(Policy, served.policy.used_id),
        reward_model=(
            None
            if served.reward.used_id is None
            else session.get(RewardModel, served.reward.used_id)
        ),
        parent_offered=body.include_parent,
        seed=seed,
    )
    session.commit()
    return set_view(session, variation_set, warnings=served.problems)


def _brief_of(parent: Formula) -> CreativeBrief | None:
    if parent.brief is None or parent.brief.parsed is None:
        return None
    try:
        return CreativeBrief.model_validate(parent.brief.parsed)
    except ValidationError as error:
        # A brief stored by an older release: its variations are still worth proposing.
        log.warning("brief %s no longer validates (%s); varied without it", parent.brief_id, error)
        return None


@router.get(
    "/v1/variation-sets/{set_id}",
    response_model=VariationSetView,
    responses={404: {"model": Problem, "description": "No such variation set."}},
)
async def read_set(set_id: uuid.UUID, database: DatabaseDep) -> VariationSetView:
    view = await database.run(lambda session: _read(session, set_id))
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no variation set {set_id}")
    return view


def _read(session: Session, set_id: uuid.UUID) -> VariationSetView | None:
    variation_set = read_variation_set(session, set_id)
    return None if variation_set is None else set_view(session, variation_set)


def set_view(
    session: Session, variation_set: VariationSet, *, warnings: list[str] | None = None
) -> VariationSetView:
    rows = formulas_by_id(session, [member.formula_id for member in variation_set.members])
    choice = choice_for(session, variation_set_id=variation_set.id, brief_id=None)
    variations = []
    for member in variation_set.members:
        row = rows[member.formula_id]
        search = row.search or {}
        variations.append(
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
                lines=[
                    FormulaLineView(
                        name=line.name, cas=line.cas, tier=line.tier, percent=line.percent
                    )
                    for line in row.lines
                ],
            )
        )
    return VariationSetView(
        variation_set_id=variation_set.id,
        parent_id=variation_set.parent_formula_id,
        parent_offered=variation_set.parent_offered,
        policy=_ref(_get(session, Policy, variation_set.policy_id)),
        reward_model=_ref(_get(session, RewardModel, variation_set.reward_model_id)),
        seed=variation_set.seed,
        variations=variations,
        warnings=warnings or [],
        chosen_id=None if choice is None else choice.chosen_formula_id,
        created_at=variation_set.created_at,
    )


def _get(session: Session, model: type[M], row_id: uuid.UUID | None) -> M | None:
    return None if row_id is None else session.get(model, row_id)


def _ref(row: Policy | RewardModel | None) -> ModelRef | None:
    return None if row is None else ModelRef(id=row.id, version=row.version)

"""The policies training wrote, and which one proposes variations: activating an earlier one
is the manual rollback."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fragrance_ai.api.active_models import ModelUnavailable, load_policy
from fragrance_ai.api.deps import DatabaseDep, RuntimeDep
from fragrance_ai.api.middleware.auth import READ_OR_TRAIN
from fragrance_ai.api.schemas.training import (
    ActivePolicy,
    ModelRef,
    PolicyList,
    PolicyView,
    Problem,
)
from fragrance_ai.db.models import Policy
from fragrance_ai.db.training import activate_policy, active_policy, list_policies
from fragrance_ai.platform.metrics import RL_ACTIVE_POLICY_VERSION
from fragrance_ai.rl.materials import material_table
from fragrance_ai.runtime import Runtime

router = APIRouter(prefix="/v1/policies", tags=["learning"], dependencies=[READ_OR_TRAIN])


@router.get("", response_model=PolicyList)
async def read_policies(database: DatabaseDep) -> PolicyList:
    """Every policy training wrote, newest first, and the active one."""
    return await database.run(_policy_list)


def _policy_list(session: Session) -> PolicyList:
    rows = list_policies(session)
    active = next((row for row in rows if row.active), None)
    return PolicyList(
        active=_ref(active),
        policies=[
            PolicyView(
                id=row.id,
                version=row.version,
                training_run_id=row.training_run_id,
                parent_id=row.parent_id,
                reward_model_id=row.reward_model_id,
                at_update=row.at_update,
                sha256=row.sha256,
                evaluation=row.evaluation,
                metrics=row.metrics,
                good=row.good,
                kept=row.kept,
                active=row.active,
                created_at=row.created_at,
                activated_at=row.activated_at,
            )
            for row in rows
        ],
    )


@router.post(
    "/{policy_id}/activate",
    response_model=ActivePolicy,
    responses={
        404: {"model": Problem, "description": "No such policy."},
        409: {
            "model": Problem,
            "description": "The policy cannot serve: its file was pruned or fails "
            "verification, or a rollback condition held when it was written.",
        },
    },
)
async def activate(
    policy_id: uuid.UUID, database: DatabaseDep, runtime: RuntimeDep
) -> ActivePolicy:
    """Makes this policy the one that proposes variations, from the next request on (every
    API process reads which one is active per request). Its file is verified first."""
    answer = await database.run(lambda session: _activate(session, runtime, policy_id))
    assert answer.active is not None
    RL_ACTIVE_POLICY_VERSION.set(answer.active.version)
    return answer


def _activate(session: Session, runtime: Runtime, policy_id: uuid.UUID) -> ActivePolicy:
    policy = session.get(Policy, policy_id)
    if policy is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no policy {policy_id}")
    if not policy.kept:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"policy v{policy.version} was pruned: its file no longer exists",
        )
    if not policy.good:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"policy v{policy.version} was written when a rollback condition held",
        )
    try:
        load_policy(runtime.settings.policies_root, material_table(runtime.catalogue), policy)
    except ModelUnavailable as error:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from error
    return _switch(session, policy)


@router.post(
    "/deactivate",
    response_model=ActivePolicy,
    responses={409: {"model": Problem, "description": "Another activation happened meanwhile."}},
)
async def deactivate(database: DatabaseDep) -> ActivePolicy:
    """Goes back to the initial, uniform policy: every allowed edit equally likely."""
    answer = await database.run(lambda session: _switch(session, None))
    RL_ACTIVE_POLICY_VERSION.set(0)
    return answer


def _switch(session: Session, policy: Policy | None) -> ActivePolicy:
    previous = _ref(active_policy(session))
    try:
        activate_policy(session, policy)
        session.commit()
    except IntegrityError:
        # The partial unique index: another request activated a policy at the same moment.
        session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail="another policy was activated at the same moment; read /v1/policies and retry",
        ) from None
    return ActivePolicy(active=_ref(policy), previous=previous)


def _ref(policy: Policy | None) -> ModelRef | None:
    return None if policy is None else ModelRef(id=policy.id, version=policy.version)

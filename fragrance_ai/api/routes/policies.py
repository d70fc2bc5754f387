"""The policies training wrote, and which one proposes variations: activating an earlier one
is the manual rollback."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status

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
from fragrance_ai.training import policies
from fragrance_ai.training.policies import ActivatedMeanwhile, CannotServe, NoSuchPolicy, Switched

router = APIRouter(prefix="/v1/policies", tags=["learning"], dependencies=[READ_OR_TRAIN])


@router.get("", response_model=PolicyList)
async def read_policies(database: DatabaseDep) -> PolicyList:
    """Every policy training wrote, newest first, and the active one."""
    return await database.run(lambda session: _list(policies.on_record(session)))


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
    try:
        return await database.run(
            lambda session: _switched(policies.activate(session, runtime, policy_id))
        )
    except NoSuchPolicy as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(error)) from None
    except (CannotServe, ActivatedMeanwhile) as error:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from None


@router.post(
    "/deactivate",
    response_model=ActivePolicy,
    responses={409: {"model": Problem, "description": "Another activation happened meanwhile."}},
)
async def deactivate(database: DatabaseDep) -> ActivePolicy:
    """Goes back to the initial, uniform policy: every allowed edit equally likely."""
    try:
        return await database.run(lambda session: _switched(policies.deactivate(session)))
    except ActivatedMeanwhile as error:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from None


def _list(listed: policies.Policies) -> PolicyList:
    return PolicyList(
        active=_ref(listed.active),
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
            for row in listed.all
        ],
    )


def _switched(switched: Switched) -> ActivePolicy:
    return ActivePolicy(active=_ref(switched.active), previous=_ref(switched.previous))


def _ref(policy: Policy | None) -> ModelRef | None:
    return None if policy is None else ModelRef(id=policy.id, version=policy.version)

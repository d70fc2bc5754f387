"""Training runs: start one, follow it, list them."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from fragrance_ai.api.deps import DatabaseDep, RuntimeDep
from fragrance_ai.api.middleware.auth import READ_OR_TRAIN
from fragrance_ai.api.middleware.back_pressure import RL_QUEUE_HAS_ROOM
from fragrance_ai.api.paging import CursorQuery, LimitQuery, OffsetQuery, page_start
from fragrance_ai.api.schemas.design import Links
from fragrance_ai.api.schemas.training import (
    Problem,
    RewardModelView,
    RollbackView,
    RunPolicyView,
    TrainingRunAccepted,
    TrainingRunPage,
    TrainingRunRequest,
    TrainingRunSummary,
    TrainingRunView,
)
from fragrance_ai.db.models import JobStatus, TrainingRun
from fragrance_ai.db.training import TrainingRunRecord
from fragrance_ai.queue.base import QueueUnavailable
from fragrance_ai.runtime import Runtime
from fragrance_ai.training import history
from fragrance_ai.training.history import NoSuchRun
from fragrance_ai.training.start import (
    RunInProgress,
    draw_seed,
    start_training_run,
    training_config,
)

router = APIRouter(prefix="/v1/training-runs", tags=["learning"], dependencies=[READ_OR_TRAIN])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TrainingRunAccepted,
    dependencies=[RL_QUEUE_HAS_ROOM],
    responses={
        409: {"model": Problem, "description": "A training run is queued or started already."},
        422: {"description": "A malformed body, or an override outside the settings' range."},
        503: {"model": Problem, "description": "The queue refused the run (kept, as failed)."},
    },
)
async def start_run(
    body: TrainingRunRequest, database: DatabaseDep, runtime: RuntimeDep, response: Response
) -> TrainingRunAccepted:
    """Queues a training run on the rl_training worker: the reward model is fitted on the
    stored preferences, then the policy is trained against it with PPO. Follow it at the
    returned Location (or its job)."""
    config = _config(runtime, body)
    seed = body.seed if body.seed is not None else draw_seed()
    try:
        run = await database.run(
            lambda session: start_training_run(
                session, runtime, seed=seed, user_ref=body.user, config=config
            )
        )
    except RunInProgress as busy:
        # "training run <id> is <status>", read while the session was open.
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"{busy}; one run at a time") from None
    except QueueUnavailable as error:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"the job queue is unavailable ({error}); the run was saved as failed, "
            "retry later",
        ) from error
    url = f"/v1/training-runs/{run.id}"
    response.headers["Location"] = url
    return TrainingRunAccepted(
        training_run_id=run.id,
        job_id=_job_id(run),
        status=JobStatus(run.status),
        links=Links(self=url, job=f"/v1/jobs/{run.job_id}"),
    )


def _config(runtime: Runtime, body: TrainingRunRequest) -> dict[str, Any]:
    drill = None if body.drill is None else body.drill.model_dump()
    try:
        return training_config(runtime.settings.rl, total_updates=body.total_updates, drill=drill)
    except ValidationError as error:
        raise RequestValidationError(
            [
                {
                    "type": detail["type"],
                    "loc": ("body", *_request_field(detail["loc"])),
                    "msg": detail["msg"],
                    "input": detail.get("input"),
                }
                for detail in error.errors(include_url=False)
            ]
        ) from None


def _request_field(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Where in the request an error in the settings came from."""
    return ("total_updates",) if loc == ("ppo", "total_updates") else loc


def _job_id(run: TrainingRun) -> uuid.UUID:
    assert run.job_id is not None  # every run the API starts has its job
    return run.job_id


@router.get("", response_model=TrainingRunPage)
async def read_runs(
    database: DatabaseDep,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
    offset: OffsetQuery = 0,
) -> TrainingRunPage:
    """Training runs, latest first. Walk the list with `next_cursor`."""
    after = page_start(cursor, offset)
    page = await database.run(
        lambda session: history.runs(session, limit=limit, after=after, offset=offset)
    )
    return TrainingRunPage(
        items=[TrainingRunSummary(**_summary(row)) for row in page.rows],
        total=page.total,
        limit=limit,
        offset=offset,
        next_cursor=page.next_cursor,
    )


@router.get(
    "/{run_id}",
    response_model=TrainingRunView,
    responses={404: {"model": Problem, "description": "No such training run."}},
)
async def read_run(run_id: uuid.UUID, database: DatabaseDep) -> TrainingRunView:
    """A run's progress and outcome: every PPO update's figures, the reward model it fitted,
    the policies it wrote and the rollbacks it made."""
    try:
        return await database.run(lambda session: _view(history.run_record(session, run_id)))
    except NoSuchRun as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(error)) from None


def _view(record: TrainingRunRecord) -> TrainingRunView:
    run, reward = record.run, record.reward_model
    return TrainingRunView(
        **_summary(run),
        config=run.config,
        base_policy_id=run.base_policy_id,
        updates=run.updates,
        metrics=run.metrics,
        reward_model=None
        if reward is None
        else RewardModelView(
            id=reward.id,
            version=reward.version,
            heldout_accuracy=reward.heldout_accuracy,
            heldout_pairs=reward.heldout_pairs,
            preferences=reward.preferences,
        ),
        policies=[
            RunPolicyView(
                id=policy.id,
                version=policy.version,
                at_update=policy.at_update,
                good=policy.good,
                kept=policy.kept,
                active=policy.active,
                evaluation=policy.evaluation,
            )
            for policy in record.policies
        ],
        rollbacks=[
            RollbackView(
                at_update=rollback.at_update,
                reason=rollback.reason,
                to_policy_id=rollback.to_policy_id,
                metrics=rollback.metrics,
                created_at=rollback.created_at,
            )
            for rollback in record.rollbacks
        ],
    )


def _summary(run: TrainingRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "job_id": run.job_id,
        "status": JobStatus(run.status),
        "stage": run.stage,
        "progress": run.progress,
        "trigger": run.trigger,
        "seed": run.seed,
        "user": run.user_ref,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }

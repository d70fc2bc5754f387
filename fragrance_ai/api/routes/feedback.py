"""A perfumer's choice among formulas offered together, stored as pairwise preferences the
reward model learns from."""

from __future__ import annotations

import logging

from fastapi import APIRouter, BackgroundTasks, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError

from fragrance_ai.api.deps import Database, DatabaseDep, RuntimeDep
from fragrance_ai.api.middleware.auth import READ_OR_WRITE
from fragrance_ai.api.schemas.training import (
    FeedbackAnswer,
    FeedbackRequest,
    Problem,
    TrainingRunRef,
)
from fragrance_ai.db.models import JobStatus
from fragrance_ai.runtime import Runtime
from fragrance_ai.training.choices import (
    AlreadyAnswered,
    ChoiceMade,
    NoSuchQuestion,
    NotOffered,
    RecordedChoice,
    record_choice,
)
from fragrance_ai.training.reward_models import refit_after_choice

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/feedback", tags=["learning"], dependencies=[READ_OR_WRITE])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackAnswer,
    responses={
        200: {
            "model": FeedbackAnswer,
            "description": "The same choice was already recorded: its answer again.",
        },
        404: {"model": Problem, "description": "No such variation set or brief."},
        409: {
            "model": Problem,
            "description": "Another choice was already recorded for this variation set or brief.",
        },
        422: {
            "description": "Not exactly one of variation_set_id and brief_id, a chosen_id "
            "that was not offered, or a rating outside 1-5."
        },
    },
)
async def give_feedback(
    body: FeedbackRequest,
    database: DatabaseDep,
    runtime: RuntimeDep,
    response: Response,
    background: BackgroundTasks,
) -> FeedbackAnswer:
    """Records which formula the perfumer preferred among those offered together (a variation
    set's members, and its parent when offered; or a brief's options): one preference of the
    chosen formula over each other one. One choice per question: sending the same choice
    again answers as the first time (200); a different one is refused (409). With
    `rl.auto_train_every` new preferences since the last run, a training run starts."""
    made = ChoiceMade(
        variation_set_id=body.variation_set_id,
        brief_id=body.brief_id,
        chosen_id=body.chosen_id,
        rating=body.rating,
        note=body.note,
        user_ref=body.user,
    )
    try:
        answer, replayed = await database.run(
            lambda session: _answer(record_choice(session, runtime, made))
        )
    except NoSuchQuestion as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(error)) from None
    except AlreadyAnswered as error:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from None
    except NotOffered as error:
        raise RequestValidationError(
            [
                {
                    "type": "not_offered",
                    "loc": ("body", "chosen_id"),
                    "msg": "not among the formulas offered: "
                    + ", ".join(str(formula_id) for formula_id in error.offered),
                    "input": str(error.chosen_id),
                }
            ]
        ) from None
    if replayed:
        response.status_code = status.HTTP_200_OK
    else:
        # After the answer is sent: the perfumer does not wait for the refit.
        background.add_task(_refit, database, runtime, body.user)
    return answer


async def _refit(database: Database, runtime: Runtime, user_ref: str | None) -> None:
    """The reward models refitted on the new choice (training/reward_models.py). The
    choice is committed and answered already; a refit that fails leaves it standing, and
    the models as they were."""
    try:
        await database.run(lambda session: refit_after_choice(session, runtime, user_ref))
    except Exception:
        log.exception("the reward model was not refitted after a choice")


def _answer(recorded: RecordedChoice) -> tuple[FeedbackAnswer, bool]:
    """The answer, and whether it repeats an earlier one."""
    choice, run = recorded.choice, recorded.training_run
    answer = FeedbackAnswer(
        choice_id=choice.id,
        chosen_id=choice.chosen_formula_id,
        rejected_ids=recorded.rejected,
        preferences_stored=len(recorded.rejected),
        rating=choice.rating,
        training_run=None
        if run is None
        else TrainingRunRef(id=run.id, status=JobStatus(run.status)),
    )
    return answer, recorded.replayed

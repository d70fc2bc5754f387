"""A perfumer's choice among formulas offered together, stored as pairwise preferences the
reward model learns from."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fragrance_ai.api.deps import DatabaseDep, RuntimeDep
from fragrance_ai.api.middleware.auth import READ_OR_WRITE
from fragrance_ai.api.schemas.training import (
    FeedbackAnswer,
    FeedbackRequest,
    Problem,
    TrainingRunRef,
)
from fragrance_ai.db.models import Brief, Choice, JobStatus, TrainingRun
from fragrance_ai.db.training import (
    auto_run_of,
    brief_option_ids,
    choice_for,
    offered_in_set,
    read_variation_set,
    rejected_ids,
    save_choice,
)
from fragrance_ai.platform.metrics import RL_PREFERENCES
from fragrance_ai.runtime import Runtime
from fragrance_ai.training.start import start_auto_run

router = APIRouter(prefix="/v1/feedback", tags=["learning"], dependencies=[READ_OR_WRITE])


@dataclass(frozen=True)
class _Outcome:
    answer: FeedbackAnswer
    replayed: bool


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
    body: FeedbackRequest, database: DatabaseDep, runtime: RuntimeDep, response: Response
) -> FeedbackAnswer:
    """Records which formula the perfumer preferred among those offered together (a variation
    set's members, and its parent when offered; or a brief's options): one preference of the
    chosen formula over each other one. One choice per question: sending the same choice
    again answers as the first time (200); a different one is refused (409). With
    `rl.auto_train_every` new preferences since the last run, a training run starts."""
    outcome = await database.run(lambda session: _record(session, runtime, body))
    if outcome.replayed:
        response.status_code = status.HTTP_200_OK
    else:
        RL_PREFERENCES.inc(outcome.answer.preferences_stored)
    return outcome.answer


def _record(session: Session, runtime: Runtime, body: FeedbackRequest) -> _Outcome:
    offered = _offered(session, body)
    if body.chosen_id not in offered:
        raise RequestValidationError(
            [
                {
                    "type": "not_offered",
                    "loc": ("body", "chosen_id"),
                    "msg": "not among the formulas offered: "
                    + ", ".join(str(formula_id) for formula_id in offered),
                    "input": str(body.chosen_id),
                }
            ]
        )
    try:
        choice, rejected = save_choice(
            session,
            variation_set_id=body.variation_set_id,
            brief_id=body.brief_id,
            chosen_id=body.chosen_id,
            offered=offered,
            rating=body.rating,
            note=body.note,
            user_ref=body.user,
        )
        session.commit()
    except IntegrityError:
        # The question was answered already, perhaps by a request running at this moment:
        # the unique constraint kept that choice, which this one replays or refuses. No
        # look-up first: between it and the insert another answer could still come.
        session.rollback()
        existing = choice_for(
            session, variation_set_id=body.variation_set_id, brief_id=body.brief_id
        )
        if existing is None:
            raise
        return _replay(session, existing, body)
    run = start_auto_run(session, runtime, stamp=choice.created_at)
    return _Outcome(_answer(choice, rejected, run), replayed=False)


def _offered(session: Session, body: FeedbackRequest) -> list[uuid.UUID]:
    if body.variation_set_id is not None:
        variation_set = read_variation_set(session, body.variation_set_id)
        if variation_set is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, detail=f"no variation set {body.variation_set_id}"
            )
        return offered_in_set(variation_set)
    assert body.brief_id is not None  # the request model requires one of the two
    if session.get(Brief, body.brief_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no brief {body.brief_id}")
    return brief_option_ids(session, body.brief_id)


def _replay(session: Session, choice: Choice, body: FeedbackRequest) -> _Outcome:
    same = (choice.chosen_formula_id, choice.rating, choice.note, choice.user_ref) == (
        body.chosen_id,
        body.rating,
        body.note,
        body.user,
    )
    if not same:
        question = (
            f"variation set {choice.variation_set_id}"
            if choice.variation_set_id is not None
            else f"brief {choice.brief_id}"
        )
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"{question} was already answered by choice {choice.id} (formula "
            f"{choice.chosen_formula_id} chosen); one choice per question",
        )
    answer = _answer(choice, rejected_ids(session, choice.id), auto_run_of(session, choice))
    return _Outcome(answer, replayed=True)


def _answer(choice: Choice, rejected: list[uuid.UUID], run: TrainingRun | None) -> FeedbackAnswer:
    return FeedbackAnswer(
        choice_id=choice.id,
        chosen_id=choice.chosen_formula_id,
        rejected_ids=rejected,
        preferences_stored=len(rejected),
        rating=choice.rating,
        training_run=None
        if run is None
        else TrainingRunRef(id=run.id, status=JobStatus(run.status)),
    )

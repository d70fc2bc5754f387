"""What a perfumer's choices have taught the reward model that asks them (training/taste.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from fragrance_ai.api.deps import DatabaseDep
from fragrance_ai.api.middleware.auth import READ_OR_WRITE
from fragrance_ai.api.schemas.training import (
    MAX_USER_CHARS,
    ModelRef,
    TasteReadingView,
    TasteTermView,
    TasteView,
)
from fragrance_ai.training.taste import CONFIDENT, Taste, taste_of

router = APIRouter(prefix="/v1/taste", tags=["learning"], dependencies=[READ_OR_WRITE])


@router.get("", response_model=TasteView)
async def read_taste(
    database: DatabaseDep,
    user: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_USER_CHARS,
            description="The perfumer whose model to read; every perfumer's when they have "
            "none, or when omitted.",
        ),
    ] = None,
) -> TasteView:
    """The reward model that asks this perfumer now, read in words: its most probable
    readings of the taste with their probability, whether one is confident (at least
    0.8), and how many more choices it would take at the rate the choices have taught so
    far (an extrapolation, null when there is no rate yet)."""
    return await database.run(lambda session: _view(taste_of(session, user), user))


def _view(taste: Taste, user: str | None) -> TasteView:
    model = taste.model
    return TasteView(
        user=user,
        whose=taste.whose,
        reward_model=None if model is None else ModelRef(id=model.id, version=model.version),
        preferences=0 if model is None else model.preferences,
        choices=taste.choices,
        heldout_accuracy=None if model is None else model.heldout_accuracy,
        readings=[
            TasteReadingView(
                words=reading.words,
                probability=reading.probability,
                terms=[
                    TasteTermView(feature=t.feature, words=t.words, direction=t.direction)
                    for t in reading.terms
                ],
            )
            for reading in taste.readings
        ],
        confident=taste.confident,
        confident_at=CONFIDENT,
        more_choices=taste.more_choices,
    )

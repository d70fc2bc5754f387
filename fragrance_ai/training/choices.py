"""Recording a perfumer's choice among formulas offered together (a variation set's members,
and its parent when offered; or a brief's options): one preference of the chosen formula
over each other one, which the reward model learns from. One choice per question. Enough
new preferences start a training run (training/start.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fragrance_ai.db.models import Choice, TrainingRun
from fragrance_ai.db.training import (
    auto_run_of,
    brief_exists,
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


@dataclass(frozen=True)
class ChoiceMade:
    """A perfumer's answer to one question: a variation set or a brief (exactly one)."""

    variation_set_id: uuid.UUID | None
    brief_id: uuid.UUID | None
    chosen_id: uuid.UUID
    rating: int | None = None
    note: str | None = None
    user_ref: str | None = None


@dataclass(frozen=True)
class RecordedChoice:
    choice: Choice
    rejected: list[uuid.UUID]
    # The run this choice started, if it started one.
    training_run: TrainingRun | None
    # True when the same choice was recorded before: nothing new was stored.
    replayed: bool


class NoSuchQuestion(LookupError):
    """The variation set or brief the choice answers does not exist."""


class NotOffered(ValueError):
    def __init__(self, chosen_id: uuid.UUID, offered: list[uuid.UUID]) -> None:
        super().__init__(f"{chosen_id} is not among the formulas offered")
        self.chosen_id = chosen_id
        self.offered = offered


class AlreadyAnswered(Exception):
    """Another choice was recorded for the same question; the message says which."""


def record_choice(session: Session, runtime: Runtime, made: ChoiceMade) -> RecordedChoice:
    """Stores the choice and its preferences (committed), then starts a training run when
    `rl.auto_train_every` preferences came in since the last one (the reward models are
    refitted on it once it is answered: training/reward_models.py, api/routes/feedback.py).
    The same choice again is answered as the first time (`replayed`); a different one
    raises AlreadyAnswered."""
    offered = _offered(session, made)
    if made.chosen_id not in offered:
        raise NotOffered(made.chosen_id, offered)
    try:
        choice, rejected = save_choice(
            session,
            variation_set_id=made.variation_set_id,
            brief_id=made.brief_id,
            chosen_id=made.chosen_id,
            offered=offered,
            rating=made.rating,
            note=made.note,
            user_ref=made.user_ref,
        )
        session.commit()
    except IntegrityError:
        # The question was answered already, perhaps by a request running at this moment:
        # the unique constraint kept that choice, which this one replays or refuses. No
        # look-up first: between it and the insert another answer could still come.
        session.rollback()
        existing = choice_for(
            session, variation_set_id=made.variation_set_id, brief_id=made.brief_id
        )
        if existing is None:
            raise
        return _replay(session, existing, made)
    RL_PREFERENCES.inc(len(rejected))
    run = start_auto_run(session, runtime, stamp=choice.created_at)
    return RecordedChoice(choice, rejected, run, replayed=False)


def _offered(session: Session, made: ChoiceMade) -> list[uuid.UUID]:
    if made.variation_set_id is not None:
        variation_set = read_variation_set(session, made.variation_set_id)
        if variation_set is None:
            raise NoSuchQuestion(f"no variation set {made.variation_set_id}")
        return offered_in_set(variation_set)
    assert made.brief_id is not None  # a choice answers one of the two
    if not brief_exists(session, made.brief_id):
        raise NoSuchQuestion(f"no brief {made.brief_id}")
    return brief_option_ids(session, made.brief_id)


def _replay(session: Session, choice: Choice, made: ChoiceMade) -> RecordedChoice:
    same = (choice.chosen_formula_id, choice.rating, choice.note, choice.user_ref) == (
        made.chosen_id,
        made.rating,
        made.note,
        made.user_ref,
    )
    if not same:
        question = (
            f"variation set {choice.variation_set_id}"
            if choice.variation_set_id is not None
            else f"brief {choice.brief_id}"
        )
        raise AlreadyAnswered(
            f"{question} was already answered by choice {choice.id} (formula "
            f"{choice.chosen_formula_id} chosen); one choice per question"
        )
    return RecordedChoice(
        choice, rejected_ids(session, choice.id), auto_run_of(session, choice), replayed=True
    )

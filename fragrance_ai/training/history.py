"""The training runs on record: the list, latest first, and one run with the reward model it
fitted, the checkpoints it wrote and the rollbacks it made."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from fragrance_ai.db.keyset import Cursor, Page
from fragrance_ai.db.models import TrainingRun
from fragrance_ai.db.training import TrainingRunRecord, list_training_runs, read_training_run


class NoSuchRun(LookupError):
    pass


def runs(
    session: Session, *, limit: int, after: Cursor | None = None, offset: int = 0
) -> Page[TrainingRun]:
    return list_training_runs(session, limit=limit, after=after, offset=offset)


def run_record(session: Session, run_id: uuid.UUID) -> TrainingRunRecord:
    record = read_training_run(session, run_id)
    if record is None:
        raise NoSuchRun(f"no training run {run_id}")
    return record

"""What a training run learns from, read through db/training.py: the stored preferences as
pairs of reward features, and the stored formulas with their briefs as episode starts."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from fragrance_ai.db.repositories import as_domain_formula
from fragrance_ai.db.training import (
    StoredPreference,
    formulas_by_id,
    newest_formulas,
    parsed_briefs,
)
from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.products import ProductType
from fragrance_ai.rl.environment import Start
from fragrance_ai.rl.features import BriefContext, reward_features
from fragrance_ai.rl.materials import MaterialTable

# Most recent stored formulas used as episode starts.
MAX_STARTS = 2000


@dataclass(frozen=True)
class PreferenceData:
    """The reward features of the chosen and of the rejected formula of each pair (one row
    per pair), and which choice stored each pair (an index, the same for the same choice)."""

    chosen: np.ndarray
    rejected: np.ndarray
    choices: npt.NDArray[np.int64]


def preference_features(
    session: Session, table: MaterialTable, pairs: Sequence[StoredPreference]
) -> PreferenceData:
    ids = {formula_id for pair in pairs for formula_id in (pair.chosen, pair.rejected)}
    features = _features_of(session, table, ids)
    index: dict[uuid.UUID, int] = {}
    return PreferenceData(
        chosen=np.stack([features[pair.chosen] for pair in pairs]),
        rejected=np.stack([features[pair.rejected] for pair in pairs]),
        choices=np.array([index.setdefault(pair.choice, len(index)) for pair in pairs]),
    )


def _features_of(
    session: Session, table: MaterialTable, ids: set[uuid.UUID]
) -> dict[uuid.UUID, np.ndarray]:
    rows = formulas_by_id(session, ids).values()
    contexts = _contexts(session, table, {row.brief_id for row in rows if row.brief_id})
    features = {}
    for row in rows:
        context = contexts.get(row.brief_id) if row.brief_id else None
        context = context or BriefContext.none(table)
        amounts = table.vector_of(as_domain_formula(row))[None, :]
        features[row.id] = reward_features(
            table, amounts, context.family_target[None, :], context.tier_targets[None, :]
        )[0]
    return features


def _contexts(
    session: Session, table: MaterialTable, brief_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, BriefContext]:
    return {
        brief_id: BriefContext.of(table, CreativeBrief.model_validate(parsed))
        for brief_id, parsed in parsed_briefs(session, brief_ids).items()
    }


def episode_starts(session: Session, table: MaterialTable) -> list[Start]:
    """The newest `MAX_STARTS` stored formulas made only of catalogue materials, in an order
    fixed by what they are, so that a seed draws the same starts in every installation.
    Not by time: the formulas of one commit may or may not share a timestamp, run to run,
    and their ids are random. (Only a selection cut inside one commit's formulas, past
    `MAX_STARTS`, can still differ.)"""
    rows = newest_formulas(session, MAX_STARTS)
    contexts = _contexts(session, table, {row.brief_id for row in rows if row.brief_id})
    keyed: list[tuple[datetime, bytes, Start]] = []
    for row in rows:
        if any(line.cas not in table.row_of for line in row.lines):
            continue
        context = contexts.get(row.brief_id) if row.brief_id else None
        start = Start(
            amounts=table.vector_of(as_domain_formula(row)),
            product=ProductType(row.product),
            dosage_percent=row.dosage_percent,
            context=context or BriefContext.none(table),
        )
        keyed.append((row.created_at, _content_key(start), start))
    keyed.sort(key=lambda entry: entry[:2])
    newest = sorted(keyed[-MAX_STARTS:], key=lambda entry: entry[1])
    return [start for _, _, start in newest]


def _content_key(start: Start) -> bytes:
    return b"".join(
        (
            start.amounts.tobytes(),
            start.product.value.encode(),
            np.float64(start.dosage_percent).tobytes(),
            start.context.family_target.tobytes(),
            start.context.tier_targets.tobytes(),
            start.context.protected.tobytes(),
        )
    )

"""What a perfumer's choices have taught, for the workbench: the reward model that asks
them now (their own, else every perfumer's), its most probable readings of their taste in
words, and how many more choices would make it confident.

Confident: one reading holds at least `CONFIDENT` of the posterior. How many more choices
until then is an extrapolation, and said to be one: the posterior's entropy over its
readings fell from the prior's by so many bits in so many choices; at that rate, the
choices it takes to fall to `CONFIDENT_BITS`. None when the choices have not narrowed the
readings yet, or the model is not the sparse one (which alone has readings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from fragrance_ai.db.models import RewardModel
from fragrance_ai.db.training import latest_reward_model
from fragrance_ai.rl.features import feature_words

# One reading holding this much of the posterior is confidence.
CONFIDENT = 0.8
# About the entropy of a posterior with 0.8 on one reading and the rest on a few others.
CONFIDENT_BITS = 1.0


@dataclass(frozen=True)
class Term:
    feature: str
    words: str
    # "more" or "less": what the reading prefers.
    direction: str


@dataclass(frozen=True)
class TasteReading:
    terms: tuple[Term, ...]
    probability: float

    @property
    def words(self) -> str:
        if not self.terms:
            return "many things at once (no reading of one or two features explains it)"
        return ", ".join(f"{term.direction} {term.words}" for term in self.terms)


@dataclass(frozen=True)
class Taste:
    # "own": the perfumer's model; "everyone": every perfumer's; "none": no model yet.
    whose: str
    model: RewardModel | None
    readings: tuple[TasteReading, ...]
    choices: int
    confident: bool
    more_choices: int | None


def taste_of(session: Session, user_ref: str | None) -> Taste:
    own = latest_reward_model(session, user_ref) if user_ref is not None else None
    model = own if own is not None else latest_reward_model(session)
    if model is None:
        return Taste("none", None, (), 0, False, None)
    metrics = model.metrics or {}
    readings = tuple(_reading(raw) for raw in metrics.get("readings") or [])
    choices = int(metrics.get("choices") or 0)
    confident = bool(readings) and readings[0].probability >= CONFIDENT
    return Taste(
        whose="own" if own is not None else "everyone",
        model=model,
        readings=readings,
        choices=choices,
        confident=confident,
        more_choices=0 if confident else _more_choices(metrics, choices),
    )


def _reading(raw: dict[str, Any]) -> TasteReading:
    terms = tuple(
        Term(
            feature=term["feature"],
            words=feature_words(term["feature"]),
            direction="more" if term["sign"] > 0 else "less",
        )
        for term in raw["terms"]
    )
    return TasteReading(terms, float(raw["probability"]))


def _more_choices(metrics: dict[str, Any], choices: int) -> int | None:
    before, now = metrics.get("prior_entropy_bits"), metrics.get("entropy_bits")
    if before is None or now is None or choices == 0:
        return None
    rate = (float(before) - float(now)) / choices
    if rate <= 0:
        return None
    return max(1, math.ceil((float(now) - CONFIDENT_BITS) / rate))

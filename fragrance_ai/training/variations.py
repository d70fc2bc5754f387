"""Proposing variations of a stored formula for a perfumer to choose from: edits drawn from
the active policy, judged by the latest reward model, repaired to compliance and stored as
one variation set (training/choices.py records the answer)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import numpy as np
from pydantic import ValidationError
from sqlalchemy.orm import Session

from fragrance_ai.db.models import Formula, Policy, RewardModel, VariationSet
from fragrance_ai.db.repositories import as_domain_formula
from fragrance_ai.db.training import (
    choice_for,
    formulas_by_id,
    read_formula,
    read_policy,
    read_reward_model,
    read_variation_set,
    save_variation_set,
)
from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.rl.features import BriefContext
from fragrance_ai.rl.materials import material_table
from fragrance_ai.rl.proposals import propose_variations
from fragrance_ai.runtime import Runtime
from fragrance_ai.training.serving import ServingModels

log = logging.getLogger(__name__)


class NoSuchFormula(LookupError):
    pass


class NoSuchVariationSet(LookupError):
    pass


class NoVariation(Exception):
    """The formula allows no variation: it has materials outside the catalogue, or no edit
    of it leads to a new compliant formula. The message says which, for the perfumer."""


@dataclass(frozen=True)
class ProposedSet:
    """A variation set with what its answer shows: the members' formulas, the models that
    proposed it, the choice made (if one was), and why a model was not used (if one was
    not)."""

    variation_set: VariationSet
    formulas: dict[uuid.UUID, Formula]
    policy: Policy | None
    reward_model: RewardModel | None
    chosen_id: uuid.UUID | None
    warnings: list[str]


def propose(
    session: Session,
    runtime: Runtime,
    models: ServingModels,
    formula_id: uuid.UUID,
    *,
    count: int,
    include_parent: bool,
    seed: int,
    user_ref: str | None = None,
) -> ProposedSet:
    """Up to `count` distinct compliant variations of the formula, each one edit, stored
    and committed as a set. The same seed draws the same variations again while the same
    models serve."""
    parent = read_formula(session, formula_id)
    if parent is None:
        raise NoSuchFormula(f"no formula {formula_id}")
    catalogue = runtime.catalogue
    outside = [line.name for line in parent.lines if line.cas not in catalogue]
    if outside:
        raise NoVariation(
            "variations are proposed for catalogue formulas only; not in the "
            f"catalogue: {', '.join(outside)}"
        )
    table = material_table(catalogue)
    served = models.current(session, table, user_ref)
    proposals = propose_variations(
        table,
        as_domain_formula(parent),
        BriefContext.of(table, _brief_of(parent)),
        count=count,
        rng=np.random.default_rng(seed),
        policy=served.policy.model,
        reward=served.reward.model,
        exploration=runtime.settings.rl.exploration,
        rank=runtime.settings.rl.proposals,
    )
    if not proposals:
        raise NoVariation(
            f"formula {formula_id} allows no variation: no edit of it leads to a "
            "new compliant formula"
        )
    variation_set = save_variation_set(
        session,
        parent=parent,
        proposals=proposals,
        catalogue=catalogue,
        policy=None
        if served.policy.used_id is None
        else read_policy(session, served.policy.used_id),
        reward_model=(
            None
            if served.reward.used_id is None
            else read_reward_model(session, served.reward.used_id)
        ),
        parent_offered=include_parent,
        seed=seed,
    )
    session.commit()
    return _proposed(session, variation_set, warnings=served.problems)


def read_set(session: Session, set_id: uuid.UUID) -> ProposedSet:
    variation_set = read_variation_set(session, set_id)
    if variation_set is None:
        raise NoSuchVariationSet(f"no variation set {set_id}")
    return _proposed(session, variation_set, warnings=[])


def _proposed(session: Session, variation_set: VariationSet, *, warnings: list[str]) -> ProposedSet:
    formulas = formulas_by_id(session, [member.formula_id for member in variation_set.members])
    choice = choice_for(session, variation_set_id=variation_set.id, brief_id=None)
    return ProposedSet(
        variation_set=variation_set,
        formulas=formulas,
        policy=None
        if variation_set.policy_id is None
        else read_policy(session, variation_set.policy_id),
        reward_model=None
        if variation_set.reward_model_id is None
        else read_reward_model(session, variation_set.reward_model_id),
        chosen_id=None if choice is None else choice.chosen_formula_id,
        warnings=warnings,
    )


def _brief_of(parent: Formula) -> CreativeBrief | None:
    if parent.brief is None or parent.brief.parsed is None:
        return None
    try:
        return CreativeBrief.model_validate(parent.brief.parsed)
    except ValidationError as error:
        # A brief stored by an older release: its variations are still worth proposing.
        log.warning("brief %s no longer validates (%s); varied without it", parent.brief_id, error)
        return None

"""Rows of learning from choices: variation sets, choices and their preferences, training runs,
policies and reward models, and what a training run reads and writes (fragrance_ai.training
is the orchestration). Queries and inserts only; commits stay with the caller."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session, selectinload

from fragrance_ai.db.keyset import Cursor, Page, newest_first
from fragrance_ai.db.models import (
    Brief,
    Choice,
    Formula,
    Job,
    JobKind,
    JobStatus,
    Policy,
    Preference,
    RewardModel,
    Rollback,
    TrainingRun,
    VariationSet,
    VariationSetMember,
)
from fragrance_ai.db.repositories import IN_DESIGN_ORDER, save_designed_formula
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.designer import DesignedFormula
from fragrance_ai.domain.formula import cost_per_kg_eur
from fragrance_ai.rl.proposals import Proposal

UNFINISHED = (JobStatus.QUEUED.value, JobStatus.STARTED.value)
# pg_advisory_xact_lock key held while deciding whether a training run may start
# (any constant; it only has to be the same in every process).
_TRAINING_RUN_LOCK = 0x7261_6E72_756E


def policy_designer(version: int | None) -> str:
    return "policy:initial" if version is None else f"policy:v{version}"


def save_variation_set(
    session: Session,
    *,
    parent: Formula,
    proposals: Sequence[Proposal],
    catalogue: Catalogue,
    policy: Policy | None,
    reward_model: RewardModel | None,
    parent_offered: bool,
    seed: int,
) -> VariationSet:
    """The set and one Formula row per proposal, a child of `parent` under its brief."""
    variation_set = VariationSet(
        id=uuid.uuid4(),
        parent_formula_id=parent.id,
        policy_id=None if policy is None else policy.id,
        reward_model_id=None if reward_model is None else reward_model.id,
        parent_offered=parent_offered,
        seed=seed,
    )
    designer = policy_designer(None if policy is None else policy.version)
    for position, proposal in enumerate(proposals):
        row = save_designed_formula(
            session,
            DesignedFormula(
                formula=proposal.formula,
                compliance=proposal.report,
                cost_per_kg_eur=cost_per_kg_eur(proposal.formula, catalogue),
                rationale=[action_sentence(proposal.action)],
            ),
            designer=designer,
            brief_id=parent.brief_id,
            job_id=None,
            parent_id=parent.id,
            # The set's member row holds the action too; kept here as well so a formula
            # read on its own still says how it came about.
            search={
                "variation": proposal.action,
                "repair_moved_percent": round(proposal.repair_moved_percent, 6),
            },
        )
        variation_set.members.append(
            VariationSetMember(
                formula_id=row.id,
                position=position,
                action=proposal.action,
                probability=proposal.probability,
                uncertainty=proposal.uncertainty,
            )
        )
    session.add(variation_set)
    return variation_set


def action_sentence(action: dict[str, Any]) -> str:
    """One line a perfumer reads: `Raise woody: Cedarwood oil from 4 % to 6 %.`"""
    operation = str(action.get("operation", ""))
    family = action.get("family", "")
    material = action.get("material")
    before = _percent(action.get("from_percent"))
    if operation in ("raise", "lower"):
        after = _percent(action.get("to_percent"))
        return f"{operation.capitalize()} {family}: {material} from {before} to {after}."
    if operation == "swap":
        new = f"{action.get('new_material')} at {_percent(action.get('new_percent'))}"
        return f"Swap {family}: {material} ({before}) for {new}."
    if operation == "add":
        new = f"{action.get('new_material')} at {_percent(action.get('new_percent'))}"
        return f"Add a {family} accent: {new}."
    if operation == "remove":
        return f"Remove {family}: {material} ({before})."
    return str(action.get("action", "a variation"))


def _percent(value: object) -> str:
    return f"{float(value):.2f} %" if isinstance(value, int | float) else "?"


def read_variation_set(session: Session, set_id: uuid.UUID) -> VariationSet | None:
    return session.get(VariationSet, set_id, options=[selectinload(VariationSet.members)])


def read_formula(session: Session, formula_id: uuid.UUID) -> Formula | None:
    return session.get(Formula, formula_id)


def formulas_by_id(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Formula]:
    statement = select(Formula).where(Formula.id.in_(ids)).options(selectinload(Formula.lines))
    return {row.id: row for row in session.scalars(statement)}


def offered_in_set(variation_set: VariationSet) -> list[uuid.UUID]:
    offered = [member.formula_id for member in variation_set.members]
    if variation_set.parent_offered:
        offered.append(variation_set.parent_formula_id)
    return offered


def brief_option_ids(session: Session, brief_id: uuid.UUID) -> list[uuid.UUID]:
    """The options designed for a brief: its formulas that are no variation of another."""
    statement = (
        select(Formula.id)
        .where(Formula.brief_id == brief_id, Formula.parent_id.is_(None))
        .order_by(*IN_DESIGN_ORDER)
    )
    return list(session.scalars(statement))


def choice_for(
    session: Session, *, variation_set_id: uuid.UUID | None, brief_id: uuid.UUID | None
) -> Choice | None:
    if variation_set_id is not None:
        return session.scalar(select(Choice).where(Choice.variation_set_id == variation_set_id))
    return session.scalar(select(Choice).where(Choice.brief_id == brief_id))


def save_choice(
    session: Session,
    *,
    variation_set_id: uuid.UUID | None,
    brief_id: uuid.UUID | None,
    chosen_id: uuid.UUID,
    offered: Sequence[uuid.UUID],
    rating: int | None,
    note: str | None,
    user_ref: str | None,
) -> tuple[Choice, list[uuid.UUID]]:
    """The choice and one preference of the chosen formula over each other one offered;
    returns the choice and the rejected ids. Flushed, so a second choice for the same
    question fails here on the unique constraint."""
    # One timestamp for the choice and its preferences: a run the choice starts is stamped
    # with it too, and counts preferences strictly after it.
    now = datetime.now(UTC)
    choice = Choice(
        id=uuid.uuid4(),
        variation_set_id=variation_set_id,
        brief_id=brief_id,
        chosen_formula_id=chosen_id,
        offered=[str(formula_id) for formula_id in offered],
        rating=rating,
        note=note,
        user_ref=user_ref,
        created_at=now,
    )
    session.add(choice)
    # The choice first: the preferences' foreign key needs it, and its unique constraint
    # is what decides between two concurrent answers to the same question.
    session.flush()
    rejected = [formula_id for formula_id in offered if formula_id != chosen_id]
    session.add_all(
        Preference(
            choice_id=choice.id,
            chosen_formula_id=chosen_id,
            rejected_formula_id=formula_id,
            user_ref=user_ref,
            created_at=now,
        )
        for formula_id in rejected
    )
    session.flush()
    return choice, rejected


def brief_exists(session: Session, brief_id: uuid.UUID) -> bool:
    return session.get(Brief, brief_id) is not None


def rejected_ids(session: Session, choice_id: uuid.UUID) -> list[uuid.UUID]:
    statement = (
        select(Preference.rejected_formula_id)
        .where(Preference.choice_id == choice_id)
        .order_by(Preference.id)
    )
    return list(session.scalars(statement))


def active_policy(session: Session) -> Policy | None:
    return session.scalar(select(Policy).where(Policy.active.is_(True)))


def read_policy(session: Session, policy_id: uuid.UUID) -> Policy | None:
    return session.get(Policy, policy_id)


def read_reward_model(session: Session, reward_model_id: uuid.UUID) -> RewardModel | None:
    return session.get(RewardModel, reward_model_id)


def latest_reward_model(session: Session, user_ref: str | None = None) -> RewardModel | None:
    """The newest model fitted on one perfumer's preferences (`user_ref`), or on every
    perfumer's (None)."""
    statement = select(RewardModel).order_by(RewardModel.version.desc()).limit(1)
    if user_ref is None:
        statement = statement.where(RewardModel.user_ref.is_(None))
    else:
        statement = statement.where(RewardModel.user_ref == user_ref)
    return session.scalar(statement)


def list_policies(session: Session) -> list[Policy]:
    return list(session.scalars(select(Policy).order_by(Policy.version.desc())))


def activate_policy(session: Session, policy: Policy | None) -> None:
    """Makes `policy` the only active one (None: the initial policy). The others are cleared
    and flushed first: the partial unique index allows one active row at any moment."""
    session.execute(update(Policy).where(Policy.active.is_(True)).values(active=False))
    session.flush()
    if policy is not None:
        policy.active = True
        policy.activated_at = datetime.now(UTC)
        session.flush()


def lock_training_runs(session: Session) -> None:
    """Held until the transaction ends, so two processes never both see "no run is queued"
    and both start one. SQLite has one writer per file, and the embedded default one API
    process, where the caller's thread lock does the same."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _TRAINING_RUN_LOCK})


def unfinished_training_run(session: Session) -> TrainingRun | None:
    statement = (
        select(TrainingRun)
        .where(TrainingRun.status.in_(UNFINISHED))
        .order_by(TrainingRun.created_at)
        .limit(1)
    )
    return session.scalar(statement)


def preferences_since_last_run(session: Session) -> int:
    last = session.scalar(select(func.max(TrainingRun.created_at)))
    statement = select(func.count()).select_from(Preference)
    if last is not None:
        statement = statement.where(Preference.created_at > last)
    return session.scalar(statement) or 0


def add_training_run(
    session: Session,
    *,
    trigger: str,
    seed: int,
    user_ref: str | None,
    config: dict[str, Any],
    created_at: datetime | None = None,
) -> TrainingRun:
    job = Job(id=uuid.uuid4(), kind=JobKind.TRAIN_POLICY.value)
    run = TrainingRun(
        id=uuid.uuid4(),
        job_id=job.id,
        trigger=trigger,
        seed=seed,
        user_ref=user_ref,
        config=config,
        updates=[],
        created_at=created_at or datetime.now(UTC),
    )
    session.add_all([job, run])
    return run


def auto_run_of(session: Session, choice: Choice) -> TrainingRun | None:
    """The run this choice started, if it started one: that run is created with the
    choice's timestamp (the schema has no column linking the two)."""
    statement = select(TrainingRun).where(
        TrainingRun.trigger == "auto", TrainingRun.created_at == choice.created_at
    )
    return session.scalars(statement).first()


def list_training_runs(
    session: Session, *, limit: int, after: Cursor | None = None, offset: int = 0
) -> Page[TrainingRun]:
    return newest_first(session, TrainingRun, limit=limit, after=after, offset=offset)


@dataclass(frozen=True)
class TrainingRunRecord:
    run: TrainingRun
    reward_model: RewardModel | None
    policies: list[Policy]
    rollbacks: list[Rollback]


def read_training_run(session: Session, run_id: uuid.UUID) -> TrainingRunRecord | None:
    run = session.get(TrainingRun, run_id)
    if run is None:
        return None
    reward_model = None
    if run.reward_model_id is not None:
        reward_model = session.get(RewardModel, run.reward_model_id)
    policies = session.scalars(
        select(Policy).where(Policy.training_run_id == run_id).order_by(Policy.at_update)
    )
    rollbacks = session.scalars(
        select(Rollback)
        .where(Rollback.training_run_id == run_id)
        .order_by(Rollback.at_update, Rollback.id)
    )
    return TrainingRunRecord(run, reward_model, list(policies), list(rollbacks))


# ------------------------------------------------------------------ what a training run reads


def training_run_of_job(session: Session, job_id: uuid.UUID) -> TrainingRun | None:
    return session.scalar(select(TrainingRun).where(TrainingRun.job_id == job_id))


class StoredPreference(NamedTuple):
    chosen: uuid.UUID
    rejected: uuid.UUID
    # The choice that stored it: the pairs of one choice share their chosen formula.
    choice: uuid.UUID


def preference_pairs(
    session: Session, user_ref: str | None, *, latest: int | None = None
) -> list[StoredPreference]:
    """Every stored preference, or one perfumer's, in the order they were stored; only the
    `latest` ones when given."""
    query = select(
        Preference.chosen_formula_id, Preference.rejected_formula_id, Preference.choice_id
    ).order_by(Preference.id.desc())
    if user_ref is not None:
        query = query.where(Preference.user_ref == user_ref)
    if latest is not None:
        query = query.limit(latest)
    return [StoredPreference(*row) for row in session.execute(query)][::-1]


def parsed_briefs(session: Session, brief_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The stored reading of each brief that has one."""
    if not brief_ids:
        return {}
    rows = session.execute(select(Brief.id, Brief.parsed).where(Brief.id.in_(brief_ids)))
    return {brief_id: parsed for brief_id, parsed in rows if parsed is not None}


def newest_formulas(session: Session, at_least: int) -> list[Formula]:
    """The `at_least` newest stored formulas and every other one created at the same time as
    the oldest of them (in no particular order: the caller orders them); every formula when
    there are fewer."""
    cutoff = session.scalar(
        select(Formula.created_at).order_by(Formula.created_at.desc()).offset(at_least - 1).limit(1)
    )
    query = select(Formula)
    if cutoff is not None:
        query = query.where(Formula.created_at >= cutoff)
    return list(session.scalars(query))


# ------------------------------------------------------------------ what a training run writes


def next_reward_model_version(session: Session) -> int:
    return (session.scalar(select(func.max(RewardModel.version))) or 0) + 1


def add_reward_model(
    session: Session,
    *,
    training_run_id: uuid.UUID | None,
    user_ref: str | None,
    version: int,
    path: str,
    sha256: str,
    preferences: int,
    heldout_accuracy: float | None,
    heldout_pairs: int,
    members: int,
    metrics: dict[str, Any],
) -> RewardModel:
    row = RewardModel(
        id=uuid.uuid4(),
        version=version,
        training_run_id=training_run_id,
        user_ref=user_ref,
        preferences=preferences,
        heldout_accuracy=heldout_accuracy,
        heldout_pairs=heldout_pairs,
        members=members,
        path=path,
        sha256=sha256,
        metrics=metrics,
    )
    session.add(row)
    session.flush()
    return row


def next_policy_version(session: Session) -> int:
    return (session.scalar(select(func.max(Policy.version))) or 0) + 1


def add_checkpoint(
    session: Session,
    run: TrainingRun,
    *,
    version: int,
    parent_id: uuid.UUID | None,
    reward_model_id: uuid.UUID,
    at_update: int,
    path: str,
    sha256: str,
    metrics: dict[str, Any],
    evaluation: dict[str, Any],
) -> Policy:
    policy = Policy(
        id=uuid.uuid4(),
        version=version,
        training_run_id=run.id,
        parent_id=parent_id,
        reward_model_id=reward_model_id,
        at_update=at_update,
        path=path,
        sha256=sha256,
        metrics=metrics,
        evaluation=evaluation,
    )
    session.add(policy)
    session.flush()
    return policy


def kept_checkpoints(session: Session, run: TrainingRun) -> list[Policy]:
    """The run's checkpoints whose files are kept, in the order they were written."""
    statement = (
        select(Policy)
        .where(Policy.training_run_id == run.id, Policy.kept.is_(True))
        .order_by(Policy.at_update)
    )
    return list(session.scalars(statement))


def add_rollback(
    session: Session,
    run: TrainingRun,
    *,
    at_update: int,
    to_policy_id: uuid.UUID | None,
    reason: str,
    metrics: dict[str, Any],
) -> None:
    session.add(
        Rollback(
            training_run_id=run.id,
            at_update=at_update,
            to_policy_id=to_policy_id,
            reason=reason,
            metrics=metrics,
        )
    )


# ------------------------------------------------------------------ a training job delivered again


def checkpoints_of_run(session: Session, run: TrainingRun) -> list[Policy]:
    return list(session.scalars(select(Policy).where(Policy.training_run_id == run.id)))


def reward_models_of_run(session: Session, run: TrainingRun) -> list[RewardModel]:
    return list(session.scalars(select(RewardModel).where(RewardModel.training_run_id == run.id)))


def rollback_count(session: Session, run: TrainingRun) -> int:
    """How many rollbacks the run recorded."""
    statement = select(func.count()).select_from(Rollback).where(Rollback.training_run_id == run.id)
    return session.scalar(statement) or 0


def discard_attempt(
    session: Session, run: TrainingRun, reward_models: Sequence[RewardModel]
) -> list[RewardModel]:
    """Removes the rollbacks and checkpoints an earlier attempt of `run` wrote, and those of
    its `reward_models` no variation set was proposed with; returns the reward models
    removed. Their files, and the checkpoints', are the caller's to remove once committed."""
    # Rollbacks point at checkpoints, checkpoints at each other and at the reward model,
    # the run at the reward model: removed in that order.
    session.execute(delete(Rollback).where(Rollback.training_run_id == run.id))
    session.execute(update(Policy).where(Policy.training_run_id == run.id).values(parent_id=None))
    session.execute(delete(Policy).where(Policy.training_run_id == run.id))
    run.reward_model_id = None
    session.flush()
    # A reward model the API already proposed variations with (it serves the newest one) is
    # on record in those variation sets: it stays.
    referenced = set(
        session.scalars(
            select(VariationSet.reward_model_id).where(
                VariationSet.reward_model_id.in_([reward.id for reward in reward_models])
            )
        )
    )
    removed = [reward for reward in reward_models if reward.id not in referenced]
    for reward in removed:
        session.delete(reward)
    return removed

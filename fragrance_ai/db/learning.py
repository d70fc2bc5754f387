"""Rows of learning from choices: variation sets, choices and their preferences, training runs,
policies and reward models. Queries and inserts only; commits stay with the caller."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, selectinload

from fragrance_ai.db.keyset import Cursor, Page, newest_first
from fragrance_ai.db.models import (
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


def formulas_by_id(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Formula]:
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


def rejected_ids(session: Session, choice_id: uuid.UUID) -> list[uuid.UUID]:
    statement = (
        select(Preference.rejected_formula_id)
        .where(Preference.choice_id == choice_id)
        .order_by(Preference.id)
    )
    return list(session.scalars(statement))


def active_policy(session: Session) -> Policy | None:
    return session.scalar(select(Policy).where(Policy.active.is_(True)))


def latest_reward_model(session: Session) -> RewardModel | None:
    """The newest model fitted on every perfumer's preferences. Per-perfumer models are left
    out: a variation request does not say whose taste it is for."""
    statement = (
        select(RewardModel)
        .where(RewardModel.user_ref.is_(None))
        .order_by(RewardModel.version.desc())
        .limit(1)
    )
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

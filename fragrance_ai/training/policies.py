"""Which policy proposes variations: the policies training wrote, activating an earlier one
(the manual rollback; its file is verified first) and going back to the initial, uniform
policy. Every API process reads which one is active per request (api/active_models.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fragrance_ai.db.models import Policy
from fragrance_ai.db.training import activate_policy, active_policy, list_policies, read_policy
from fragrance_ai.platform.metrics import RL_ACTIVE_POLICY_VERSION
from fragrance_ai.rl.materials import material_table
from fragrance_ai.runtime import Runtime
from fragrance_ai.training.serving import ModelUnavailable, load_policy


class NoSuchPolicy(LookupError):
    pass


class CannotServe(Exception):
    """The policy's file was pruned or fails verification, or a rollback condition held when
    it was written; the message says which."""


class ActivatedMeanwhile(Exception):
    """Another request activated a policy at the same moment."""


@dataclass(frozen=True)
class Policies:
    """Every policy, newest first, and the active one (None: the initial policy)."""

    all: list[Policy]
    active: Policy | None


@dataclass(frozen=True)
class Switched:
    active: Policy | None
    previous: Policy | None


def on_record(session: Session) -> Policies:
    rows = list_policies(session)
    return Policies(rows, next((row for row in rows if row.active), None))


def activate(session: Session, runtime: Runtime, policy_id: uuid.UUID) -> Switched:
    """Makes the policy the one that proposes variations, once its file loads."""
    policy = read_policy(session, policy_id)
    if policy is None:
        raise NoSuchPolicy(f"no policy {policy_id}")
    if not policy.kept:
        raise CannotServe(f"policy v{policy.version} was pruned: its file no longer exists")
    if not policy.good:
        raise CannotServe(f"policy v{policy.version} was written when a rollback condition held")
    try:
        load_policy(runtime.settings.policies_root, material_table(runtime.catalogue), policy)
    except ModelUnavailable as error:
        raise CannotServe(str(error)) from error
    switched = _switch(session, policy)
    RL_ACTIVE_POLICY_VERSION.set(policy.version)
    return switched


def deactivate(session: Session) -> Switched:
    """Back to the initial, uniform policy: every allowed edit equally likely."""
    switched = _switch(session, None)
    RL_ACTIVE_POLICY_VERSION.set(0)
    return switched


def _switch(session: Session, policy: Policy | None) -> Switched:
    previous = active_policy(session)
    try:
        activate_policy(session, policy)
        session.commit()
    except IntegrityError:
        # The partial unique index: another request activated a policy at the same moment.
        session.rollback()
        raise ActivatedMeanwhile(
            "another policy was activated at the same moment; read /v1/policies and retry"
        ) from None
    return Switched(active=policy, previous=previous)

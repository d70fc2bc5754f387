"""API key rows: created, listed, revoked, and looked up when a request presents one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from fragrance_ai.db.models import ApiKey, utcnow
from fragrance_ai.security.keys import PresentedKey, Scope, generate_key, secret_matches

# last_used_at is written at most this often per key: a busy key costs no write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedKey:
    row: ApiKey
    token: str


def create_key(session: Session, name: str, scopes: Sequence[Scope]) -> CreatedKey:
    new = generate_key()
    row = ApiKey(
        id=new.key_id,
        name=name,
        secret_sha256=new.secret_sha256,
        scopes=sorted({scope.value for scope in scopes}),
    )
    session.add(row)
    session.commit()
    return CreatedKey(row=row, token=new.token)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def revoke_key(session: Session, key_id: str) -> ApiKey | None:
    """The key, revoked now unless it was already; None when there is no such key."""
    row = session.get(ApiKey, key_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()
    return row


def active_key_count(session: Session) -> int:
    counted = session.scalar(select(func.count()).where(ApiKey.revoked_at.is_(None)))
    return int(counted or 0)


def verified_scopes(session: Session, presented: PresentedKey) -> frozenset[str] | None:
    """The scopes of a presented key that exists, is not revoked and whose secret matches;
    None otherwise. Notes the use (at most once a minute)."""
    row = session.get(ApiKey, presented.key_id)
    if row is None or row.revoked_at is not None:
        return None
    if not secret_matches(presented.secret, row.secret_sha256):
        return None
    _note_use(session, row.id, utcnow())
    return frozenset(str(scope) for scope in row.scopes)


def _note_use(session: Session, key_id: str, now: datetime) -> None:
    # Conditional in the statement itself: API replicas verifying the same key at the same
    # moment write once between them, and a fresh stamp costs no write at all.
    session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id)
        .where(
            or_(
                ApiKey.last_used_at.is_(None),
                ApiKey.last_used_at < now - LAST_USED_RESOLUTION,
            )
        )
        .values(last_used_at=now)
    )
    session.commit()

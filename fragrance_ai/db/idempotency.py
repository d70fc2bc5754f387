"""Idempotency-Key records: claimed by the first request, answered, replayed, released."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fragrance_ai.db.models import IdempotencyRecord


@dataclass(frozen=True)
class Claimed:
    claim: uuid.UUID


@dataclass(frozen=True)
class Replay:
    status_code: int
    headers: list[tuple[str, str]]
    body: bytes


class Refusal(Enum):
    OTHER_PAYLOAD = "other_payload"
    IN_FLIGHT = "in_flight"


@dataclass(frozen=True)
class KeyUse:
    principal: str
    key: str
    fingerprint: str
    now: datetime
    ttl: timedelta
    in_flight_timeout: timedelta


def claim_key(session: Session, use: KeyUse) -> Claimed | Replay | Refusal:
    """Claims the key for this request, or says what a retry gets instead."""
    # A few rounds: between a failed insert and the look-up the row may be released or
    # expire; each round ends, and a key that keeps changing hands is in flight.
    for _ in range(3):
        claim = uuid.uuid4()
        session.add(
            IdempotencyRecord(
                principal=use.principal,
                idempotency_key=use.key,
                fingerprint=use.fingerprint,
                claim=claim,
                claimed_at=use.now,
                expires_at=use.now + use.ttl,
            )
        )
        try:
            # The unique constraint decides between concurrent first requests, on every
            # replica: no look-up first, which another insert could overtake.
            session.commit()
            return Claimed(claim)
        except IntegrityError:
            session.rollback()
        row = session.scalars(
            select(IdempotencyRecord).where(
                IdempotencyRecord.principal == use.principal,
                IdempotencyRecord.idempotency_key == use.key,
            )
        ).one_or_none()
        if row is None:
            continue
        if row.expires_at <= use.now:
            session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.id == row.id, IdempotencyRecord.expires_at <= use.now
                )
            )
            session.commit()
            continue
        if row.fingerprint != use.fingerprint:
            return Refusal.OTHER_PAYLOAD
        if row.status_code is not None:
            return Replay(
                status_code=row.status_code,
                headers=[(str(name), str(value)) for name, value in row.response_headers or []],
                body=row.response_body or b"",
            )
        if row.claimed_at > use.now - use.in_flight_timeout:
            return Refusal.IN_FLIGHT
        taken = _take_over(session, row, use)
        if taken is not None:
            return taken
    return Refusal.IN_FLIGHT


def _take_over(session: Session, row: IdempotencyRecord, use: KeyUse) -> Claimed | None:
    # The claim's process died without an answer: this request runs it again.
    claim = uuid.uuid4()
    result = session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == row.id, IdempotencyRecord.claim == row.claim)
        .where(IdempotencyRecord.status_code.is_(None))
        .values(claim=claim, claimed_at=use.now, expires_at=use.now + use.ttl)
    )
    session.commit()
    return Claimed(claim) if _rowcount(result) == 1 else None


def record_answer(
    session: Session,
    claim: uuid.UUID,
    status_code: int,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.claim == claim, IdempotencyRecord.status_code.is_(None))
        .values(
            status_code=status_code,
            response_headers=[list(header) for header in headers],
            response_body=body,
        )
    )
    session.commit()


def release(session: Session, claim: uuid.UUID) -> None:
    """Frees the key of a request that failed on the server's side, so a retry runs again."""
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.claim == claim, IdempotencyRecord.status_code.is_(None)
        )
    )
    session.commit()


def purge_expired(session: Session, now: datetime) -> int:
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
    session.commit()
    return _rowcount(result)


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)

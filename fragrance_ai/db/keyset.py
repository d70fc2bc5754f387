"""Newest-first keyset pagination over any table with `created_at` and `id`.

A page starts after the last row of the previous one, named by an opaque cursor, instead of
skipping `offset` rows: a row inserted between two pages then neither shifts a row onto the
next page twice nor hides one, and a deep page costs what the first does.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

# Deep offsets are what the cursor is for; this bound keeps `offset` (kept for old clients)
# far inside what every database accepts (a 64-bit integer).
MAX_OFFSET = 10_000
MAX_CURSOR_CHARS = 200


class _Listed(Protocol):
    created_at: InstrumentedAttribute[datetime]
    id: InstrumentedAttribute[Any]


Row = TypeVar("Row")


@dataclass(frozen=True)
class Cursor:
    """The position after a row: its creation time, then its id to break ties."""

    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        text = f"{self.created_at.astimezone(UTC).isoformat()}|{self.id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


class MalformedCursor(ValueError):
    pass


def decode_cursor(token: str) -> Cursor:
    """The position a cursor names; MalformedCursor when it is not one this API wrote."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        moment, _, identifier = text.partition("|")
        created_at = datetime.fromisoformat(moment)
        row_id = uuid.UUID(identifier)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise MalformedCursor(
            "not a cursor from this API: pass the next_cursor of the previous page as is"
        ) from None
    if created_at.tzinfo is None:
        raise MalformedCursor("not a cursor from this API: its time has no zone")
    return Cursor(created_at.astimezone(UTC), row_id)


@dataclass(frozen=True)
class Page(Generic[Row]):
    rows: list[Row]
    total: int
    next_cursor: str | None


def newest_first(
    session: Session,
    model: type[Row],
    *,
    limit: int,
    after: Cursor | None = None,
    offset: int = 0,
) -> Page[Row]:
    """Rows newest first (ties by id), `limit` of them after `after`; `next_cursor` names
    where the next page starts, None on the last page."""
    columns: _Listed = model  # type: ignore[assignment]
    total = session.scalar(select(func.count()).select_from(model)) or 0
    statement = select(model).order_by(columns.created_at.desc(), columns.id)
    if after is not None:
        statement = statement.where(
            or_(
                columns.created_at < after.created_at,
                and_(columns.created_at == after.created_at, columns.id > after.id),
            )
        )
    # One row more than asked says whether another page follows.
    rows = list(session.scalars(statement.offset(offset).limit(limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more:
        last: Any = page[-1]
        next_cursor = Cursor(last.created_at, last.id).encode()
    return Page(rows=page, total=total, next_cursor=next_cursor)

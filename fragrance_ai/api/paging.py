"""The query parameters of a newest-first list, and where its page starts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi.exceptions import RequestValidationError

from fragrance_ai.db.keyset import (
    MAX_CURSOR_CHARS,
    MAX_OFFSET,
    Cursor,
    MalformedCursor,
    decode_cursor,
)

LimitQuery = Annotated[int, Query(ge=1, le=100, description="Rows on the page.")]
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_CHARS,
        description="The previous page's next_cursor: this page starts after its last row. "
        "Rows inserted meanwhile neither repeat nor hide a row.",
    ),
]
OffsetQuery = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_OFFSET,
        deprecated=True,
        description="Rows to skip, for clients written before cursors; a row inserted "
        "between two pages shifts every offset by one. Not with cursor.",
    ),
]


def page_start(cursor: str | None, offset: int) -> Cursor | None:
    """The position a list page starts after; a 422 naming `cursor` when it is malformed."""
    if cursor is None:
        return None
    try:
        position = decode_cursor(cursor)
    except MalformedCursor as error:
        raise _invalid("cursor", str(error), cursor) from None
    if offset:
        raise _invalid("offset", "give cursor or offset, not both", offset)
    return position


def _invalid(name: str, problem: str, value: object) -> RequestValidationError:
    return RequestValidationError(
        [{"type": f"invalid_{name}", "loc": ("query", name), "msg": problem, "input": value}]
    )

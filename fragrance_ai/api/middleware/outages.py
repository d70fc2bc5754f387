"""A dependency outage is a 503, wherever in the request it is met.

One middleware around the routes and the request guards alike: FastAPI's exception handlers
would cover the routes only, and the guards (API-key look-up, Idempotency-Key records) meet
the database too, so an outage there would answer 500 to every caller with a key not yet cached.
"""

from __future__ import annotations

import logging

from fastapi import status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fragrance_ai.queue.base import QueueUnavailable

log = logging.getLogger(__name__)

# Long enough for a database fail-over or a Redis restart; clients back off at least this long.
RETRY_AFTER_S = 5


def _database_unavailable() -> JSONResponse:
    return JSONResponse(
        {"detail": "the database is unavailable; retry later"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _queue_unavailable(error: QueueUnavailable) -> JSONResponse:
    return JSONResponse(
        {"detail": f"the job queue is unavailable: {error}"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


class OutagesAs503:
    """Turns an outage raised by a route or a guard inside it into a 503, unless an answer has
    already begun (then the connection is dropped, as for any error mid-answer)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_note_start(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_start)
        except OperationalError as error:
            if started:
                raise
            log.error("database unavailable: %s", error)
            await _database_unavailable()(scope, receive, send)
        except QueueUnavailable as error:
            if started:
                raise
            log.error("queue unavailable: %s", error)
            await _queue_unavailable(error)(scope, receive, send)

"""Gives every request an id: the caller's `X-Request-ID` when it is a sane one (a proxy's or a
client's, so their logs and ours meet), else a new one. Every line logged while the request
runs carries it (fragrance_ai.platform.logs), and the response returns it."""

from __future__ import annotations

import os
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fragrance_ai.platform.logs import REQUEST_ID

HEADER = "X-Request-ID"
# What lands in a log line must not forge another one (newlines, quotes) or flood it.
_SANE_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # 128 random bits in hex, as long as uuid4().hex, without building a UUID object:
        # that cost some 2 us, about a tenth of a remembered read's time in the app.
        request_id = _incoming_id(scope) or os.urandom(16).hex()
        # Not reset afterwards: the server runs each request in a task of its own, whose
        # context ends with it, and its own lines after the app returns (the access line, an
        # "Exception in ASGI application") should carry the id too.
        REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value.decode("ascii") if _SANE_ID.fullmatch(value) else None
    return None

"""Answers from JSON rendered once: strong ETags, conditional GETs (RFC 9110 13.1.2) and the
bounded in-memory store that keeps the rendered bytes.

Everything here runs on the event loop and never blocks: a route that finds its answer in a
store replies without a thread-pool hop and without pydantic. Stores are not thread-safe on
purpose: only the event loop touches them (rendering happens in the thread pool, storing
back on the loop).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope, Send

# A stored formula never changes, so a browser may keep it without asking again. For a day,
# not a year: a release may add a field to the representation, and the workbench must see it
# by the next day. `private`: an API key may guard it, so no shared cache keeps it.
IMMUTABLE = "private, max-age=86400, immutable"
# The catalogue changes only with a release: kept five minutes, then revalidated, which
# costs a 304 when nothing changed.
REVALIDATE = "private, max-age=300, must-revalidate"

JSON = b"application/json"

# How the OpenAPI document describes the conditional answer of a route served from here.
CONDITIONAL_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "ETag": {
                "description": "Strong validator: a hash of the body's bytes.",
                "schema": {"type": "string"},
            },
            "Cache-Control": {
                "description": "How long a client may keep the answer.",
                "schema": {"type": "string"},
            },
        }
    },
    304: {"description": "Not modified: the If-None-Match header names the current ETag."},
}

_ENTITY_TAG = re.compile(r'(?:W/)?("[\x21\x23-\x7e\x80-\xff]*")')


@dataclass(frozen=True, slots=True)
class Rendered:
    """A JSON body rendered once, with the headers every answer carrying it repeats."""

    body: bytes
    etag: str
    cache_control: str
    # The header lines of a 304 (the validators) and of a 200, encoded once.
    validators: tuple[tuple[bytes, bytes], ...]
    headers: tuple[tuple[bytes, bytes], ...]

    @property
    def size(self) -> int:
        return len(self.body)


def rendered(body: bytes, cache_control: str) -> Rendered:
    # Strong: the tag is a function of the exact bytes, so equal tags mean equal bodies.
    etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
    validators = (
        (b"etag", etag.encode("latin-1")),
        (b"cache-control", cache_control.encode("latin-1")),
    )
    headers = (
        (b"content-length", str(len(body)).encode("latin-1")),
        (b"content-type", JSON),
        *validators,
    )
    return Rendered(body, etag, cache_control, validators, headers)


def none_match(header: str, etag: str) -> bool:
    """Whether an If-None-Match field value matches `etag`: `*`, or a list of entity tags
    compared weakly (RFC 9110 13.1.2: W/"x" matches "x"). A malformed value matches nothing,
    so the client gets the full answer."""
    if header.strip() == "*":
        return True
    return etag in _ENTITY_TAG.findall(header)


def answer(request: Request, body: Rendered) -> Response:
    """200 with the bytes, or 304 when the request's If-None-Match names them."""
    response = Response(status_code=_status(request.scope, body))
    response.raw_headers = _headers(response.status_code, body)
    if response.status_code == 200:
        response.body = body.body
    return response


async def send_answer(scope: Scope, send: Send, body: Rendered) -> None:
    """What `answer` sends, sent straight: for the answers given without routing
    (middleware/rendered_reads.py)."""
    status_code = _status(scope, body)
    await send(
        {
            "type": "http.response.start",
            "status": status_code,
            "headers": _headers(status_code, body),
        }
    )
    await send({"type": "http.response.body", "body": body.body if status_code == 200 else b""})


def _status(scope: Scope, body: Rendered) -> int:
    # The raw header list, not a Headers object: this is the hot path.
    conditions = [value for name, value in scope["headers"] if name == b"if-none-match"]
    # Several If-None-Match lines are one comma-separated list (RFC 9110 5.3).
    if conditions and none_match(b",".join(conditions).decode("latin-1"), body.etag):
        return 304
    return 200


def _headers(status_code: int, body: Rendered) -> list[tuple[bytes, bytes]]:
    # A copy each time: the middleware outside adds to the list it is given (X-Request-ID).
    # A 304 repeats the validators and caching directives a 200 would carry (15.4.5).
    return list(body.headers if status_code == 200 else body.validators)


K = TypeVar("K", bound=Hashable)


class Sized(Protocol):
    @property
    def size(self) -> int: ...


V = TypeVar("V", bound=Sized)


class BoundedStore(Generic[K, V]):
    """The least recently used values, bounded by entries and by their sizes in bytes."""

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, key: K) -> V | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> None:
        if value.size > self.max_bytes:
            return  # would evict everything else and still not fit
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._bytes -= previous.size
        self._entries[key] = value
        self._bytes += value.size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size


class RenderedStore(BoundedStore[K, Rendered]):
    """Least recently used rendered bodies, bounded by entries and by bytes."""

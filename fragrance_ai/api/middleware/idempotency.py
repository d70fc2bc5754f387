"""The Idempotency-Key header (IETF draft-ietf-httpapi-idempotency-key-header) on every POST
under /v1.

The first request with a key claims it in the database (so the claim holds across restarts
and API replicas) and its answer is stored; a retry with the same key and the same payload
(method, path, query and body) gets that answer again, marked `Idempotent-Replayed: true`;
the same key with another payload is refused (422), and so is a retry while the first is
still running (409). A server error (5xx) releases the key, so a retry runs again. Keys are
per caller (API key, or `anonymous` where keys are optional) and expire after
`security.idempotency_ttl_s`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fragrance_ai.api.middleware.auth import ANONYMOUS, is_api_path, principal_of
from fragrance_ai.db.idempotency import (
    Claimed,
    KeyUse,
    Refusal,
    Replay,
    claim_key,
    purge_expired,
    record_answer,
    release,
)
from fragrance_ai.db.models import utcnow
from fragrance_ai.settings import SecuritySettings

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Expired records are deleted at most this often per process, on the way of a claim.
_PURGE_EVERY_S = 600.0


class IdempotencyMiddleware:
    def __init__(
        self, app: ASGIApp, sessions: sessionmaker[Session], security: SecuritySettings
    ) -> None:
        self.app = app
        self._sessions = sessions
        self._ttl = timedelta(seconds=security.idempotency_ttl_s)
        self._in_flight_timeout = timedelta(seconds=security.idempotency_in_flight_timeout_s)
        self._purged_at = float("-inf")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_key = _header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if raw_key is None or scope["method"] != "POST" or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        key, problem = parse_key(raw_key)
        if problem is not None:
            await JSONResponse({"detail": problem}, status_code=400)(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except ClientDisconnect:
            return
        principal = principal_of(scope) or ANONYMOUS
        use = KeyUse(
            principal=principal.id,
            key=key,
            fingerprint=_fingerprint(scope, body),
            now=utcnow(),
            ttl=self._ttl,
            in_flight_timeout=self._in_flight_timeout,
        )
        outcome = await run_in_threadpool(self._claim, use)
        if isinstance(outcome, Claimed):
            await self._run(scope, receive, send, body, outcome)
        elif isinstance(outcome, Replay):
            await _replay(outcome)(scope, receive, send)
        else:
            await _refusal(outcome, key)(scope, receive, send)

    def _claim(self, use: KeyUse) -> Claimed | Replay | Refusal:
        with self._sessions() as session:
            if time.monotonic() - self._purged_at > _PURGE_EVERY_S:
                self._purged_at = time.monotonic()
                purged = purge_expired(session, use.now)
                if purged:
                    log.info("purged %d expired idempotency keys", purged)
            return claim_key(session, use)

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, body: bytes, claimed: Claimed
    ) -> None:
        body_sent = False

        async def receive_body_again() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        start: Message | None = None
        chunks: list[bytes] = []
        answered = False

        async def store_then_send(message: Message) -> None:
            # The whole answer is stored before the client sees any of it: whoever got an
            # answer can have it replayed.
            nonlocal start, answered
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            answered = True
            content = b"".join(chunks)
            await run_in_threadpool(self._settle, claimed, start, content)
            await send(start)
            await send({"type": "http.response.body", "body": content, "more_body": False})

        try:
            await self.app(scope, receive_body_again, store_then_send)
        except BaseException:
            if not answered:
                await run_in_threadpool(self._release, claimed)
            raise

    def _settle(self, claimed: Claimed, start: Message, content: bytes) -> None:
        status_code = int(start["status"])
        try:
            with self._sessions() as session:
                if status_code >= 500:
                    release(session, claimed.claim)
                else:
                    headers = [
                        (name.decode("latin-1"), value.decode("latin-1"))
                        for name, value in start.get("headers", [])
                    ]
                    record_answer(session, claimed.claim, status_code, headers, content)
        except Exception:
            # The answer still goes out; the key stays claimed until the in-flight timeout.
            log.exception("idempotency key not settled; it frees itself after the timeout")

    def _release(self, claimed: Claimed) -> None:
        try:
            with self._sessions() as session:
                release(session, claimed.claim)
        except Exception:
            log.exception("idempotency key not released; it frees itself after the timeout")


def parse_key(raw: str) -> tuple[str, str | None]:
    """The key, from a bare token or the draft's quoted string; or what is wrong with it."""
    key = raw.strip()
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        key = key[1:-1]
    if not key:
        return key, f"{HEADER}: empty; send a unique string per operation, such as a UUID"
    if len(key) > MAX_KEY_LENGTH:
        return key, f"{HEADER}: {len(key)} characters; at most {MAX_KEY_LENGTH}"
    if not all(" " <= character <= "~" for character in key):
        return key, f"{HEADER}: printable ASCII characters only"
    return key, None


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _fingerprint(scope: Scope, body: bytes) -> str:
    target = f"{scope['method']} {scope['path']}?{scope.get('query_string', b'').decode('latin-1')}"
    digest = hashlib.sha256(target.encode("utf-8", "surrogateescape"))
    digest.update(b"\n")
    digest.update(hashlib.sha256(body).digest())
    return digest.hexdigest()


def _replay(replay: Replay) -> Response:
    response = Response(content=replay.body, status_code=replay.status_code)
    response.raw_headers = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in replay.headers
        if name.lower() != "content-length"
    ]
    response.raw_headers.append((b"content-length", str(len(replay.body)).encode()))
    response.raw_headers.append((REPLAYED_HEADER.lower().encode(), b"true"))
    return response


def _refusal(refusal: Refusal, key: str) -> JSONResponse:
    if refusal is Refusal.OTHER_PAYLOAD:
        return JSONResponse(
            {
                "detail": f"{HEADER} {key!r} was used for another request (method, path or "
                "body differ); use a new key for a new request"
            },
            status_code=422,
        )
    return JSONResponse(
        {
            "detail": f"a request with {HEADER} {key!r} is still being processed; retry when "
            "it has been answered"
        },
        status_code=409,
        headers={"Retry-After": "1"},
    )

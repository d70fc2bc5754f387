"""Who is calling (an API key, or nobody where keys are optional) and what the key may do.

Authentication is a middleware over every /v1 path, so a route nobody remembered to guard is
still closed. Authorization is one dependency per router (`READ_OR_WRITE`, `READ_OR_TRAIN`):
GET and HEAD need `read`, other methods `write`, or `train` on the training routers.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from fragrance_ai.db.api_keys import active_key_count, verified_scopes
from fragrance_ai.security.keys import Scope as KeyScope
from fragrance_ai.security.keys import grants, parse_token
from fragrance_ai.settings import Settings

log = logging.getLogger(__name__)

API_PREFIX = "/v1"
# Entries kept before the cache starts afresh: bounds the memory a stream of made-up keys
# can take, far above the keys one deployment has.
_CACHE_ENTRIES = 10_000
_READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Principal:
    """`key:<id>` for an API key; `anonymous` where keys are optional and none was sent."""

    id: str
    key_id: str | None
    scopes: frozenset[str]

    def allows(self, needed: KeyScope) -> bool:
        return grants(self.scopes, needed)


ANONYMOUS = Principal(id="anonymous", key_id=None, scopes=frozenset({KeyScope.ADMIN.value}))


def is_api_path(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def principal_of(scope: Scope) -> Principal | None:
    principal = scope.get("state", {}).get("principal")
    return principal if isinstance(principal, Principal) else None


class KeyVerifier:
    """Verifies presented keys against the database, remembering each answer (yes or no)
    for `ttl_s`: the hot path costs a hash and a dict look-up, and a revoked key keeps
    passing on a process that verified it for at most `ttl_s`."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[bytes, tuple[float, Principal | None]] = {}

    async def verify(self, token: str) -> Principal | None:
        # Cached under the token's digest, so the process never holds secrets in a dict.
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        principal = await run_in_threadpool(self._look_up, token)
        if len(self._cache) >= _CACHE_ENTRIES:
            self._cache.clear()
        self._cache[digest] = (now + self._ttl_s, principal)
        return principal

    def _look_up(self, token: str) -> Principal | None:
        presented = parse_token(token)
        if presented is None:
            return None
        with self._sessions() as session:
            scopes = verified_scopes(session, presented)
        if scopes is None:
            return None
        return Principal(id=f"key:{presented.key_id}", key_id=presented.key_id, scopes=scopes)


class AuthenticationMiddleware:
    def __init__(self, app: ASGIApp, verifier: KeyVerifier, required: bool) -> None:
        self.app = app
        self._verifier = verifier
        self._required = required

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        token, problem = _presented_token(scope)
        if problem is not None:
            await _unauthorized(problem, invalid=True)(scope, receive, send)
            return
        if token is None:
            if self._required:
                await _unauthorized(
                    "an API key is required: send `Authorization: Bearer <key>` (an operator "
                    "creates one with `fragrance-ai keys create`)",
                    invalid=False,
                )(scope, receive, send)
                return
            principal = ANONYMOUS
        else:
            verified = await self._verifier.verify(token)
            if verified is None:
                await _unauthorized("the API key is unknown, revoked or malformed", invalid=True)(
                    scope, receive, send
                )
                return
            principal = verified
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def _presented_token(scope: Scope) -> tuple[str | None, str | None]:
    """The key sent as `Authorization: Bearer` or `X-API-Key`, or the problem with it."""
    authorization = api_key = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"x-api-key":
            api_key = value.decode("latin-1")
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, "Authorization: expected `Bearer <API key>`"
        return token.strip(), None
    if api_key is not None:
        return api_key.strip(), None
    return None, None


def _unauthorized(detail: str, *, invalid: bool) -> JSONResponse:
    # RFC 6750: a missing credential gets the bare challenge, a refused one says why.
    challenge = 'Bearer realm="fragrance-ai"'
    if invalid:
        challenge += ', error="invalid_token"'
    return JSONResponse(
        {"detail": detail},
        status_code=status.HTTP_401_UNAUTHORIZED,
        headers={"WWW-Authenticate": challenge},
    )


class RequireScope:
    """Reads need `read`; everything else needs `writes` (`write`, or `train` for the
    routers that start training and switch policies)."""

    def __init__(self, writes: KeyScope) -> None:
        self.writes = writes

    async def __call__(self, request: Request) -> None:
        principal = principal_of(request.scope)
        if principal is None:
            # The middleware did not run: refuse rather than serve unauthenticated.
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="no authenticated caller",
                headers={"WWW-Authenticate": 'Bearer realm="fragrance-ai"'},
            )
        needed = KeyScope.READ if request.method in _READ_METHODS else self.writes
        if not principal.allows(needed):
            held = ", ".join(sorted(principal.scopes)) or "none"
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this API key lacks the `{needed.value}` scope, which "
                f"{request.method} {request.url.path} needs (it has: {held})",
            )


READ_OR_WRITE = Depends(RequireScope(KeyScope.WRITE))
READ_OR_TRAIN = Depends(RequireScope(KeyScope.TRAIN))


def report_key_configuration(settings: Settings, sessions: sessionmaker[Session]) -> None:
    """Says at start-up when every /v1 request is going to be refused, or none checked."""
    if not settings.api_keys_required:
        if settings.app_env.value != "development":
            log.warning(
                "API keys are not required (security.require_api_keys=false) in %s: anyone "
                "who reaches this port may create briefs and train policies",
                settings.app_env.value,
            )
        return
    try:
        with sessions() as session:
            active = active_key_count(session)
    except SQLAlchemyError as error:
        log.debug("API keys not counted (database not ready: %s)", error)
        return
    if active == 0:
        log.error(
            "API keys are required (APP_ENV=%s) but none is active: every /v1 request will be "
            "refused with 401 until an operator runs `fragrance-ai keys create --name NAME "
            "--scope read --scope write`",
            settings.app_env.value,
        )

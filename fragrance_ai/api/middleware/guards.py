"""Everything between the socket and the routes that protects the service: CORS, the body
size limit, API keys, the rate limit and Idempotency-Key (docs/security.md)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from fragrance_ai.api.middleware.auth import (
    AuthenticationMiddleware,
    KeyVerifier,
    report_key_configuration,
)
from fragrance_ai.api.middleware.body_size import BodySizeLimit
from fragrance_ai.api.middleware.idempotency import REPLAYED_HEADER, IdempotencyMiddleware
from fragrance_ai.api.middleware.outages import OutagesAs503
from fragrance_ai.api.middleware.rate_limit import RateLimitMiddleware, build_rate_limiter
from fragrance_ai.api.middleware.request_id import HEADER as REQUEST_ID_HEADER
from fragrance_ai.runtime import Runtime


def install_request_guards(app: FastAPI, runtime: Runtime) -> None:
    settings = runtime.settings
    security = settings.security
    # Starlette runs the middleware added last first, so these go innermost first: the
    # idempotency record needs the caller, the rate limit needs the key, and a body is
    # counted before anyone reads it.
    app.add_middleware(IdempotencyMiddleware, sessions=runtime.sessions, security=security)
    if security.rate_limit.requests_per_minute:
        app.add_middleware(
            RateLimitMiddleware,
            limiter=build_rate_limiter(settings),
            limit=security.rate_limit,
        )
    app.add_middleware(
        AuthenticationMiddleware,
        verifier=KeyVerifier(runtime.sessions, security.key_cache_ttl_s),
        required=settings.api_keys_required,
    )
    app.add_middleware(BodySizeLimit, max_bytes=security.max_body_bytes)
    # Around the routes and every guard that reads the database or the queue: an outage met
    # anywhere inside is a 503.
    app.add_middleware(OutagesAs503)
    if security.cors_origins:
        # Outermost: a preflight is answered without a key, and refusals carry CORS headers
        # so a page elsewhere can read why.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=security.cors_origins,
            allow_methods=["GET", "HEAD", "POST"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-API-Key",
                REQUEST_ID_HEADER,
            ],
            expose_headers=["Location", "Retry-After", REPLAYED_HEADER, REQUEST_ID_HEADER],
            max_age=600,
        )
    report_key_configuration(settings, runtime.sessions)

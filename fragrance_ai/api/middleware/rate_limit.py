"""Per-key request rate limit over /v1: 429 with Retry-After once a key's bucket is empty.

The bucket is GCRA (the generic cell rate algorithm): one timestamp per key, the moment its
bucket will be full again. In Redis (one script call per request, on Redis's own clock, so
every API replica shares the same budget) when REDIS_URL is set; in this process's memory
for the embedded queue, where there is one process.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Protocol

from redis import Redis
from redis.exceptions import RedisError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from fragrance_ai.api.middleware.auth import is_api_path, principal_of
from fragrance_ai.settings import RateLimitSettings, Settings

log = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "fragrance-ai:rate:"
# After Redis fails, requests pass unlimited this long before it is tried again: a Redis
# outage must not add a timeout to every request, nor refuse them all.
_REDIS_REST_S = 5.0

# KEYS[1]: the bucket; ARGV[1]: emission interval, ARGV[2]: burst x interval, in
# microseconds. Returns 0 when the request may pass, else the microseconds to wait.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
local allowed_at = next_tat - capacity
if now < allowed_at then return math.ceil(allowed_at - now) end
local ttl_ms = math.ceil((next_tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', ttl_ms)
return 0
"""


class RateLimiter(Protocol):
    def wait_s(self, bucket: str) -> float:
        """0 when a request on `bucket` may pass now (and counts it), else seconds to wait."""


class MemoryRateLimiter:
    def __init__(self, limit: RateLimitSettings) -> None:
        self._interval = 60.0 / limit.requests_per_minute
        self._capacity = self._interval * limit.burst
        self._full_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait_s(self, bucket: str) -> float:
        now = time.monotonic()
        with self._lock:
            full_at = max(self._full_at.get(bucket, now), now)
            next_full_at = full_at + self._interval
            allowed_at = next_full_at - self._capacity
            if now < allowed_at:
                return allowed_at - now
            self._full_at[bucket] = next_full_at
            if len(self._full_at) > 10_000:
                # Buckets already full again hold nothing worth keeping.
                self._full_at = {k: v for k, v in self._full_at.items() if v > now}
            return 0.0


class RedisRateLimiter:
    def __init__(self, redis_url: str, limit: RateLimitSettings) -> None:
        # Short timeouts: the call runs on the event loop (a local Redis answers in about
        # 0.1 ms, less than a hop to the thread pool would cost).
        self._redis = Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
        self._script = self._redis.register_script(_GCRA)
        interval_us = 60_000_000 / limit.requests_per_minute
        self._args = [int(interval_us), int(interval_us * limit.burst)]
        self._resting_until = 0.0

    def wait_s(self, bucket: str) -> float:
        if time.monotonic() < self._resting_until:
            return 0.0
        try:
            wait_us = int(self._script(keys=[REDIS_KEY_PREFIX + bucket], args=self._args))
        except RedisError as error:
            self._resting_until = time.monotonic() + _REDIS_REST_S
            log.warning("rate limit off for %.0f s: Redis failed (%s)", _REDIS_REST_S, error)
            return 0.0
        return wait_us / 1_000_000


def build_rate_limiter(settings: Settings) -> RateLimiter:
    limit = settings.security.rate_limit
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, limit)
    return MemoryRateLimiter(limit)


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter, limit: RateLimitSettings) -> None:
        self.app = app
        self._limiter = limiter
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        wait = self._limiter.wait_s(_bucket(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        response = JSONResponse(
            {
                "detail": f"rate limit: {self._limit.requests_per_minute} requests a minute "
                f"(bursts of {self._limit.burst}) per API key; retry in {retry_after} s"
            },
            status_code=429,
            headers={"Retry-After": str(retry_after)},
        )
        await response(scope, receive, send)


def _bucket(scope: Scope) -> str:
    principal = principal_of(scope)
    if principal is not None and principal.key_id is not None:
        return f"key:{principal.key_id}"
    # No key (keys optional): each client address has its own bucket.
    client = scope.get("client")
    return f"address:{client[0] if client else 'unknown'}"

"""Parsed briefs in Redis, keyed by a hash of the normalised text, the mode, the requested
product and the model versions, so a replaced model never serves another's readings. The
cache is an optimisation only: any Redis error is logged once per call, counted, and the
brief is read as if the cache were empty."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from fragrance_ai.domain.parser import normalise_text

log = logging.getLogger(__name__)

KEY_PREFIX = "fragrance:brief-reading:"


def cache_key(text: str, mode: str, product: str | None, model_versions: list[str]) -> str:
    material = json.dumps(
        [" ".join(normalise_text(text).split()), mode, product, sorted(model_versions)]
    )
    return KEY_PREFIX + hashlib.sha256(material.encode()).hexdigest()


class ReadingCache:
    def __init__(self, redis_url: str | None, ttl_s: int) -> None:
        self._ttl_s = ttl_s
        self._redis = (
            Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
            if redis_url and ttl_s > 0
            else None
        )

    @property
    def enabled(self) -> bool:
        return self._redis is not None

    def get(self, key: str) -> tuple[dict[str, Any] | None, str]:
        """The cached reading and `hit`, `miss`, `disabled` or `unavailable`."""
        if self._redis is None:
            return None, "disabled"
        try:
            raw = self._redis.get(key)
        except RedisError as error:
            log.warning("brief cache unavailable (%s); reading without it", error)
            return None, "unavailable"
        if raw is None:
            return None, "miss"
        value: dict[str, Any] = json.loads(raw)
        return value, "hit"

    def put(self, key: str, value: dict[str, Any]) -> bool:
        if self._redis is None:
            return False
        try:
            self._redis.set(key, json.dumps(value), ex=self._ttl_s)
        except RedisError as error:
            log.warning("brief cache unavailable (%s); reading not stored", error)
            return False
        return True

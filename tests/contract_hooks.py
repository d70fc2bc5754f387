"""schemathesis hooks for tests/test_openapi_contract.py (loaded through SCHEMATHESIS_HOOKS).

The document declares Idempotency-Key on every POST under /v1, so schemathesis generates
keys; a deterministic run draws the same valid key for different requests, which the
server rightly refuses (422: the key was used for another request). A valid key is made
unique per call, as a client makes it; malformed ones go out as generated (400).
"""

from __future__ import annotations

import itertools
from typing import Any

import schemathesis

from fragrance_ai.api.middleware.idempotency import HEADER, parse_key

_calls = itertools.count(1)


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: Any, kwargs: dict[str, Any]) -> None:
    headers = case.headers or {}
    key = headers.get(HEADER)
    if isinstance(key, str) and parse_key(key)[1] is None:
        headers[HEADER] = f"contract-{next(_calls)}"

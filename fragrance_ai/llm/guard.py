"""The JSON guard: whatever a model wrote becomes a validated record or a clear failure.

Constrained decoding makes valid JSON the norm; the guard is for the rest (a model cut off by
its timeout, a model loaded without constraints, a tokenizer quirk): extract the outermost
JSON object, repair what is safe to repair (trailing commas, a missing closing bracket,
single quotes), validate with pydantic, and retry with exponential back-off and jitter.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

Record = TypeVar("Record", bound=BaseModel)
Result = TypeVar("Result")

_TRAILING_COMMA = re.compile(r",\s*([}\]])")


class GuardRejected(Exception):
    """The output could not be made into a valid record; the message says why."""


def extract_json(text: str) -> str:
    """The first `{` to its matching `}`; closes what a cut-off output left open."""
    start = text.find("{")
    if start < 0:
        raise GuardRejected("no JSON object in the output")
    depth, in_string, escaped = 0, False, False
    closers: list[str] = []
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "{[":
            closers.append("}" if char == "{" else "]")
            depth += 1
        elif char in "}]":
            if closers:
                closers.pop()
            depth -= 1
            if depth == 0:
                return text[start : index + 1]
    # Cut off: close the open string and brackets, then let validation judge the result.
    tail = text[start:].rstrip().rstrip(",")
    return tail + ('"' if in_string else "") + "".join(reversed(closers))


def repair_json(candidate: str) -> str:
    repaired = _TRAILING_COMMA.sub(r"\1", candidate)
    if "'" in repaired and '"' not in repaired:
        repaired = repaired.replace("'", '"')
    return repaired


def parse_record(text: str, record: type[Record]) -> Record:
    candidate = extract_json(text)
    for attempt in (candidate, repair_json(candidate)):
        try:
            return record.model_validate(json.loads(attempt))
        except json.JSONDecodeError:
            continue
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "record"
            raise GuardRejected(f"{where}: {first['msg']}") from None
    raise GuardRejected("not valid JSON, even after repair")


def with_retries(
    attempt: Callable[[int], Result],
    *,
    retries: int,
    base_delay_s: float = 0.05,
    max_delay_s: float = 1.0,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Result, int]:
    """Calls `attempt(n)` until it returns; on GuardRejected waits base x 2^n with full
    jitter and tries again, `retries` more times. Returns the result and the attempts made."""
    rng = rng or random.Random()
    for number in range(retries + 1):
        try:
            return attempt(number), number + 1
        except GuardRejected:
            if number == retries:
                raise
            sleep(rng.uniform(0, min(max_delay_s, base_delay_s * 2**number)))
    raise AssertionError("unreachable")  # pragma: no cover

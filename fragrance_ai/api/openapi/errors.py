"""Every error answer the API can give, declared in the OpenAPI document in one place.

Routes declare what is particular to them (a 409 for a variation set answered already); the
answers that come from the service around them (authentication, rate limits, body limits,
idempotency, unavailable dependencies, conditional GETs) are added here, by reading each
operation's method, path and shape. Each answer names its body schema and the headers a
client acts on (Retry-After, WWW-Authenticate, ETag, Location).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from fragrance_ai.api.middleware.idempotency import HEADER as IDEMPOTENCY_KEY
from fragrance_ai.api.middleware.idempotency import MAX_KEY_LENGTH

Document = dict[str, Any]
Operation = dict[str, Any]

PROBLEM = "#/components/schemas/Problem"
VALIDATION_PROBLEM = "#/components/schemas/HTTPValidationError"
BEARER_SCHEME = "bearerAuth"
API_KEY_SCHEME = "apiKeyHeader"
# What idempotency.parse_key accepts: 1 to MAX_KEY_LENGTH printable ASCII characters, bare
# (the ends are trimmed) or in the draft's double quotes (kept inside them).
_N = MAX_KEY_LENGTH
IDEMPOTENCY_KEY_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": (
        f'^[ \\t]*(?:"[ -~]{{1,{_N}}}"|"(?:[ -~]{{0,{_N - 2}}}[!#-~])?'
        f"|[!#-~](?:[ -~]{{0,{_N - 2}}}[!-~])?)[ \\t]*$"
    ),
}
# Reads that answer 304 to a matching If-None-Match (their 200 carries an ETag).
CONDITIONAL_READS = frozenset(
    {
        ("get", "/v1/formulas/{formula_id}"),
        ("get", "/v1/ingredients"),
        ("get", "/v1/ingredients/{cas}"),
    }
)

_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "An error answer: what went wrong, in words.",
    "properties": {"detail": {"type": "string", "title": "Detail"}},
    "required": ["detail"],
}

_HEADERS: dict[str, dict[str, Any]] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with: Bearer.",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The representation's version; send it back in If-None-Match.",
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "Where to follow what was created or accepted.",
        "schema": {"type": "string"},
    },
}


@dataclass(frozen=True)
class OperationFacts:
    """What decides an operation's error answers, read from the document and the route."""

    method: str
    path: str
    has_body: bool
    has_parameters: bool
    # Answers 201 or 202: it made something (its answer may say where, in Location).
    creates: bool

    @property
    def versioned(self) -> bool:
        return self.path.startswith("/v1/")

    @property
    def idempotent(self) -> bool:
        """Every POST under /v1 takes an Idempotency-Key."""
        return self.versioned and self.method == "post"

    @property
    def has_path_id(self) -> bool:
        return "{" in self.path


def declare_error_responses(document: Document, *, keys_required: bool) -> None:
    """Adds the service's error answers to every operation of `document`, in place.

    `keys_required` says whether a /v1 request without an API key is refused. A route's own
    declaration of a status is kept; only what it leaves out is filled in.
    """
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).setdefault("Problem", _PROBLEM_SCHEMA)
    schemes = components.setdefault("securitySchemes", {})
    schemes[BEARER_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: `Authorization: Bearer <key>`. Keys carry scopes: "
        "`read` for GET, `write` or `train` for the rest.",
    }
    schemes[API_KEY_SCHEME] = {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The same API key, for clients that cannot send Authorization.",
    }
    security: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}, {API_KEY_SCHEME: []}]
    if not keys_required:
        # {}: no key at all is accepted too (the development profile, by default).
        security.append({})
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            facts = OperationFacts(
                method=method,
                path=path,
                has_body="requestBody" in operation,
                has_parameters=bool(operation.get("parameters")),
                creates=method == "post" and bool({"201", "202"} & set(operation["responses"])),
            )
            _declare(operation, facts)
            if facts.versioned:
                operation["security"] = copy.deepcopy(security)


def _declare(operation: Operation, facts: OperationFacts) -> None:
    responses: dict[str, Any] = operation["responses"]
    for status, answer in _error_answers(facts).items():
        if status in responses:
            # The route's own words win; the service's headers are still stated.
            for name, header in answer.get("headers", {}).items():
                responses[status].setdefault("headers", {}).setdefault(name, header)
        else:
            responses[status] = answer
    if facts.idempotent:
        _add_parameter(operation, _idempotency_key_parameter())
        # FastAPI's 422 names validation problems only; a reused key is a Problem.
        responses["422"]["content"] = _validation_answer(facts)["content"]
    if facts.creates:
        for status in ("201", "202"):
            if status in responses:
                responses[status].setdefault("headers", {}).setdefault(
                    "Location", {**_HEADERS["Location"], "required": False}
                )
    if (facts.method, facts.path) in CONDITIONAL_READS:
        _add_parameter(
            operation,
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "description": "An ETag from an earlier answer: 304 while it still holds.",
                "schema": {"type": "string"},
            },
        )
        responses["200"].setdefault("headers", {}).setdefault(
            "ETag", {**_HEADERS["ETag"], "required": False}
        )


def _error_answers(facts: OperationFacts) -> dict[str, dict[str, Any]]:
    answers: dict[str, dict[str, Any]] = {}
    if facts.has_body or facts.idempotent:
        reasons = []
        if facts.has_body:
            reasons.append("a body that cannot be read as text")
        if facts.idempotent:
            reasons.append(f"a malformed {IDEMPOTENCY_KEY} header")
        answers["400"] = _problem("Bad request: " + " or ".join(reasons) + ".")
    if facts.versioned:
        answers["401"] = _problem(
            "No API key, or one the service does not know.",
            {"WWW-Authenticate": {**_HEADERS["WWW-Authenticate"], "required": True}},
        )
        answers["403"] = _problem("The API key lacks the scope this operation needs.")
    if facts.has_path_id:
        answers["404"] = _problem("Nothing has this id.")
    if facts.idempotent:
        answers["409"] = _problem(
            f"A request with the same {IDEMPOTENCY_KEY} is still being processed."
        )
    if facts.has_body:
        answers["413"] = _problem("The request body is larger than the service accepts.")
    if facts.has_body or facts.has_parameters or facts.idempotent:
        answers["422"] = _validation_answer(facts)
    if facts.versioned:
        answers["429"] = _problem(
            "Too many requests for this key or client: retry after the given seconds.",
            {"Retry-After": {**_HEADERS["Retry-After"], "required": True}},
        )
    if facts.versioned:
        # Any /v1 request may need the database: a presented API key is verified there, a
        # POST's Idempotency-Key is claimed there, and most routes read or write it.
        answers["503"] = _problem(
            "The database or the job queue is unavailable, or the queue is full: retry "
            "later (after Retry-After seconds when given).",
            {"Retry-After": {**_HEADERS["Retry-After"], "required": False}},
        )
    if (facts.method, facts.path) in CONDITIONAL_READS:
        answers["304"] = {
            "description": "Not modified: the representation still has the ETag sent in "
            "If-None-Match.",
            "headers": {"ETag": {**_HEADERS["ETag"], "required": True}},
        }
    return answers


def _validation_answer(facts: OperationFacts) -> dict[str, Any]:
    if not facts.idempotent:
        return {
            "description": "Validation error: each problem with its location.",
            "content": {"application/json": {"schema": {"$ref": VALIDATION_PROBLEM}}},
        }
    return {
        "description": "Validation error (each problem with its location), or an "
        f"{IDEMPOTENCY_KEY} used before with a different request.",
        "content": {
            "application/json": {
                "schema": {"anyOf": [{"$ref": VALIDATION_PROBLEM}, {"$ref": PROBLEM}]}
            }
        },
    }


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": PROBLEM}}},
    }
    if headers:
        answer["headers"] = copy.deepcopy(headers)
    return answer


def _idempotency_key_parameter() -> dict[str, Any]:
    return {
        "name": IDEMPOTENCY_KEY,
        "in": "header",
        "required": False,
        "description": "Makes a retried POST safe: the same key with the same body answers "
        "as the first time without doing the work again; with another body, 422.",
        "schema": dict(IDEMPOTENCY_KEY_SCHEMA),
    }


def _add_parameter(operation: Operation, parameter: dict[str, Any]) -> None:
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    if not any(
        p.get("name", "").lower() == parameter["name"].lower() and p.get("in") == "header"
        for p in parameters
    ):
        parameters.append(parameter)

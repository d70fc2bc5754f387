"""The OpenAPI document as the service really answers: FastAPI's, plus the error answers of
the service around the routes, links between operations, and the facts that depend on the
running configuration (the brief vocabulary, the most variations one request may ask for)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from fragrance_ai.api.openapi.errors import Document, declare_error_responses
from fragrance_ai.api.openapi.links import add_links
from fragrance_ai.domain.brief_correction import vocabulary
from fragrance_ai.runtime import Runtime


def install_openapi(app: FastAPI, runtime: Runtime) -> None:
    """Serves the completed document at /openapi.json (and in /docs), built on first use."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app, runtime)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_document(app: FastAPI, runtime: Runtime) -> Document:
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    declare_error_responses(
        document,
        keys_required=runtime.settings.api_keys_required,
    )
    _declare_printable_alternatives(document)
    _state_configured_limits(document, runtime)
    add_links(document)
    return document


def _declare_printable_alternatives(document: Document) -> None:
    """An operation with `?format=html` also answers with a printable page."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            formats: list[str] = next(
                (
                    parameter.get("schema", {}).get("enum", [])
                    for parameter in operation.get("parameters", [])
                    if parameter.get("name") == "format" and parameter.get("in") == "query"
                ),
                [],
            )
            if "html" in formats:
                operation["responses"]["200"].setdefault("content", {})["text/html"] = {
                    "schema": {"type": "string"},
                }


def _state_configured_limits(document: Document, runtime: Runtime) -> None:
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    correction = schemas.get("BriefCorrection", {}).get("properties", {})
    words = vocabulary(runtime.catalogue)
    # The designer knows these words and no others: a corrected brief naming another one
    # is refused (their synonyms and other cases are read too, but these are the names).
    for field in ("families", "moods", "seasons", "evocations"):
        if field in correction:
            correction[field]["items"]["enum"] = words[field]
    variations = schemas.get("VariationRequest", {}).get("properties", {})
    if "n" in variations:
        variations["n"]["maximum"] = runtime.settings.rl.max_variations

"""Field types for request bodies whose OpenAPI schema says exactly what the server accepts.

Pydantic's lax mode takes `true` for a number and strips before it measures, where JSON
Schema does neither; a client (or schemathesis) reading the document would then be told one
thing and answered another. These types close both gaps, so the schema is the contract.
"""

from __future__ import annotations

from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

# Seeds are stored as signed 64-bit integers; kept to what a double holds exactly (as
# JSON numbers often are read), so a bound in the schema means the same to every client.
MAX_SEED = 2**53 - 1

# Every character Python's str.strip() removes (str.isspace), spelled out because JSON
# Schema's `\s` (ECMA-262) and Python's disagree: U+001C-U+001F are whitespace only to
# Python, U+FEFF only to ECMA-262. tests/test_openapi_contract.py checks the list.
WHITESPACE = (
    "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Unanchored, as JSON Schema and pydantic both match a pattern: at least one character
# that is not whitespace.
NOT_BLANK_PATTERN = "[^" + "".join(f"\\u{ord(c):04x}" for c in WHITESPACE) + "]"


def not_a_bool(value: object) -> object:
    """For a number field's `field_validator(mode="before")`: JSON's true is not the number
    1, though pydantic's lax mode reads it so; refused like any other wrong type."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


def _not_blank(text: str) -> str:
    stripped = text.strip(WHITESPACE)
    if not stripped:
        raise ValueError("must contain more than whitespace")
    return stripped


class NotBlank:
    """Text with something besides whitespace; the surrounding whitespace goes. Put it after
    the length constraints, which measure the text as sent, as JSON Schema does:
    `Annotated[str, StringConstraints(max_length=80), NotBlank()]`. The schema's `pattern`
    and the validator refuse the same texts."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_not_blank, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = NOT_BLANK_PATTERN
        return json_schema

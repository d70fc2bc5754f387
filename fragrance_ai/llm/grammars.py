"""Compiled grammars for schema-constrained decoding (constrained.py): llguidance's view of a
tokenizer (about a second to build) and each JSON schema's grammar, made once and kept.

Apart from constrained.py so that what holds the cache (the ensemble, each role) imports
neither torch nor transformers: a worker reads its first brief while they load.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import llguidance

# No whitespace between JSON tokens: fewer tokens to generate, same meaning.
_JSON_OPTIONS: dict[str, Any] = {"whitespace_flexible": False}


class GrammarCache:
    """llguidance's tokenizer view (about a second to build) and compiled grammars."""

    def __init__(self) -> None:
        self._tokenizers: dict[int, llguidance.LLTokenizer] = {}
        self._grammars: dict[str, str] = {}
        self._lock = threading.Lock()

    def tokenizer(self, hf_tokenizer: Any) -> llguidance.LLTokenizer:
        with self._lock:
            key = id(hf_tokenizer)
            if key not in self._tokenizers:
                import llguidance.hf  # brings transformers: only once a model has loaded

                self._tokenizers[key] = llguidance.hf.from_tokenizer(hf_tokenizer)
            return self._tokenizers[key]

    def grammar(self, schema: dict[str, Any]) -> str:
        key = json.dumps(schema, sort_keys=True)
        with self._lock:
            if key not in self._grammars:
                grammar = llguidance.LLMatcher.grammar_from_json_schema(
                    schema,
                    defaults=_JSON_OPTIONS,  # type: ignore[arg-type]
                )
                error = llguidance.LLMatcher.validate_grammar(grammar)
                if error:
                    raise ValueError(f"JSON schema not usable as a grammar: {error}")
                self._grammars[key] = grammar
            return self._grammars[key]

    def matchers(self, hf_tokenizer: Any, schema: dict[str, Any], count: int) -> list[Any]:
        lltokenizer = self.tokenizer(hf_tokenizer)
        grammar = self.grammar(schema)
        return [llguidance.LLMatcher(lltokenizer, grammar, log_level=0) for _ in range(count)]

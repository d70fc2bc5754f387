"""Schema-constrained decoding with llguidance: a JSON schema becomes a grammar, and at each
step a token mask that leaves the model only tokens that keep its output valid JSON of that
schema. Works wherever the logits are (CPU or CUDA): the mask is built on the CPU and moved.

Grammars are compiled once per schema and tokenizer (grammars.py); each generated sequence
gets its own matcher (its own position in the grammar), so one batch can hold several briefs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask
from transformers import LogitsProcessor


class SchemaLogitsProcessor(LogitsProcessor):
    """Masks every row's logits to what its matcher allows next. A row whose matcher has
    finished (or failed) may only produce end-of-sequence, which ends it."""

    def __init__(self, matchers: list[Any], vocab_size: int, eos_token_id: int) -> None:
        self._matchers = matchers
        self._vocab_size = vocab_size
        self._eos = eos_token_id
        self._bitmask = allocate_token_bitmask(len(matchers), vocab_size)
        self._shifts = torch.arange(32, dtype=torch.int32)
        self._started = False

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        last_tokens = input_ids[:, -1].tolist() if self._started else None
        self._started = True
        finished = np.zeros(len(self._matchers), dtype=bool)
        for row, matcher in enumerate(self._matchers):
            if last_tokens is not None and not matcher.is_stopped():
                matcher.consume_token(last_tokens[row])
            if matcher.is_error() or matcher.is_stopped():
                finished[row] = True
                continue
            fill_next_token_bitmask(matcher, self._bitmask, row)
        allowed = self._allowed(scores.shape[-1])
        for row in np.flatnonzero(finished).tolist():
            allowed[row] = False
            allowed[row, self._eos] = True
        return scores.masked_fill(~allowed.to(scores.device), float("-inf"))  # type: ignore[return-value]

    def _allowed(self, logit_width: int) -> torch.Tensor:
        words = torch.from_numpy(self._bitmask)
        bits = ((words.unsqueeze(-1) >> self._shifts) & 1).reshape(words.shape[0], -1).bool()
        bits = bits[:, : self._vocab_size]
        if logit_width > bits.shape[1]:
            # The model's embedding may be padded past the tokenizer's vocabulary.
            padding = torch.zeros(bits.shape[0], logit_width - bits.shape[1], dtype=torch.bool)
            bits = torch.cat([bits, padding], dim=1)
        return bits[:, :logit_width].clone()

    def accepted(self) -> list[bool]:
        """Per row: did the output complete a document of the schema?"""
        return [m.is_accepting() and not m.is_error() for m in self._matchers]

"""One ensemble role: its model (or why it has none), its circuit breaker, and a batched call
that turns each item's output into a validated record or a recorded failure."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from fragrance_ai.llm.breaker import BreakerState, CircuitBreaker
from fragrance_ai.llm.grammars import GrammarCache
from fragrance_ai.llm.guard import GuardRejected, parse_record, with_retries
from fragrance_ai.llm.loading import LoadedModel
from fragrance_ai.platform.metrics import (
    LLM_BATCH_SIZE,
    LLM_BREAKER_STATE,
    LLM_FALLBACKS,
    LLM_INFERENCE_SECONDS,
    LLM_TOKENS,
)
from fragrance_ai.settings import EnsembleRole, RoleSettings

if TYPE_CHECKING:
    from fragrance_ai.llm.generation import Chat

log = logging.getLogger(__name__)

Record = TypeVar("Record", bound=BaseModel)

_BREAKER_GAUGE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class RoleTimeout(Exception):
    """The model ran past the role's timeout before finishing its JSON."""


@dataclass
class RoleCall(Generic[Record]):
    """One item's outcome: a record, or the reason it fell back (unavailable, breaker_open,
    timeout, error, rejected) with details."""

    record: Record | None = None
    fallback: str | None = None
    detail: str | None = None
    attempts: int = 0
    tokens: int = 0
    seconds: float = 0.0
    batch: int = 0
    model: str | None = None
    trace: dict[str, Any] = field(default_factory=dict)

    def path(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "outcome": "ok" if self.record is not None else "fallback",
            "model": self.model,
            "seconds": round(self.seconds, 3),
            "tokens": self.tokens,
            "attempts": self.attempts,
            "batch": self.batch,
        }
        if self.fallback:
            entry["fallback"] = self.fallback
            entry["detail"] = self.detail
        return entry


class Role:
    def __init__(
        self,
        name: EnsembleRole,
        settings: RoleSettings,
        breaker: CircuitBreaker,
        grammars: GrammarCache,
    ) -> None:
        self.name = name
        self.settings = settings
        self.breaker = breaker
        self._grammars = grammars
        self.loaded: LoadedModel | None = None
        self.unavailable: str | None = "not loaded yet"
        # Whether loading its model has been tried (loaded, or unavailable and why): until
        # then the role is loading, and no brief waits for it (BriefEnsemble.read_many).
        self.attempted = False

    @property
    def has_model(self) -> bool:
        """Configured with a model; a role without one is the deterministic code by design."""
        return self.settings.model_path is not None

    @property
    def version(self) -> str | None:
        return self.loaded.version if self.loaded else None

    def call(
        self,
        chats: list[Chat],
        schema: dict[str, Any],
        record: type[Record],
        *,
        mode: str,
        seeds: list[int],
    ) -> list[RoleCall[Record]]:
        """Every chat answered in one batched generate call; items the guard rejects are
        retried together (back-off and jitter), up to the role's `retries`."""
        calls: list[RoleCall[Record]] = [RoleCall(model=self.version) for _ in chats]
        if self.loaded is None:
            return self._fall_back(calls, "unavailable", self.unavailable or "no model")
        if not self.breaker.allow():
            return self._fall_back(calls, "breaker_open", "the role's circuit breaker is open")
        pending = list(range(len(chats)))
        failed_call = False

        def attempt(number: int) -> None:
            nonlocal pending, failed_call
            outputs = self._generate([chats[i] for i in pending], schema, mode, seeds, pending)
            still: list[int] = []
            for index, (text, tokens, complete, timed_out, seconds) in zip(
                pending, outputs, strict=True
            ):
                call = calls[index]
                call.attempts = number + 1
                call.tokens += tokens
                call.seconds += seconds
                call.batch = len(pending)
                if timed_out and not complete:
                    call.fallback, call.detail = (
                        "timeout",
                        (f"no complete answer within {self.settings.timeout_s:g} s"),
                    )
                    failed_call = True
                    continue
                try:
                    call.record = parse_record(text, record)
                except GuardRejected as error:
                    call.fallback, call.detail = "rejected", str(error)
                    still.append(index)
                else:
                    call.fallback = call.detail = None
            pending = still
            if pending:
                raise GuardRejected(f"{len(pending)} answer(s) rejected")

        try:
            with_retries(attempt, retries=self.settings.retries)
        except GuardRejected:
            failed_call = True
        except Exception as error:  # any model failure falls back to code
            log.warning("%s model failed: %s: %s", self.name.value, type(error).__name__, error)
            for call in calls:
                if call.record is None:
                    call.fallback, call.detail = "error", f"{type(error).__name__}: {error}"
            failed_call = True
        if failed_call:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
        LLM_BREAKER_STATE.labels(self.name.value).set(_BREAKER_GAUGE[self.breaker.state])
        for call in calls:
            if call.fallback:
                LLM_FALLBACKS.labels(self.name.value, call.fallback).inc()
        return calls

    def _generate(
        self,
        chats: list[Chat],
        schema: dict[str, Any],
        mode: str,
        seeds: list[int],
        indices: list[int],
    ) -> list[tuple[str, int, bool, bool, float]]:
        # torch and transformers, imported once a model has loaded and is asked.
        from fragrance_ai.llm.generation import generate_json

        assert self.loaded is not None
        started = time.perf_counter()
        generation = generate_json(
            self.loaded,
            chats,
            schema,
            self._grammars,
            max_new_tokens=self.settings.max_new_tokens,
            temperature=self.settings.temperature,
            timeout_s=self.settings.timeout_s,
            seed=seeds[indices[0]],
        )
        seconds = time.perf_counter() - started
        LLM_INFERENCE_SECONDS.labels(self.name.value, mode).observe(seconds)
        LLM_BATCH_SIZE.labels(self.name.value).observe(len(chats))
        LLM_TOKENS.labels(self.name.value).inc(sum(generation.new_tokens))
        return [
            (text, tokens, complete, generation.timed_out, seconds)
            for text, tokens, complete in zip(
                generation.texts, generation.new_tokens, generation.complete, strict=True
            )
        ]

    def _fall_back(
        self, calls: list[RoleCall[Record]], reason: str, detail: str
    ) -> list[RoleCall[Record]]:
        for call in calls:
            call.fallback, call.detail = reason, detail
            LLM_FALLBACKS.labels(self.name.value, reason).inc()
        return calls

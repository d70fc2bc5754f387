"""The brief-reading ensemble: the deterministic parser always, then the mode's roles.

    fast      parser model
    balanced  parser model + validator (code always; its model only for what code cannot
              settle: which families, when the text names none)
    creative  balanced + creative hints (soft preferences for the optimiser)
    auto      one of the above, picked from the text

In every mode, language models or none, the literal reading is followed by the evocations its
clauses paraphrase (evocation_embedding.py), unless `llm.paraphrases.enabled` is false.

Every failure falls back: a role without a model, with an open breaker, timing out, raising
or writing what the guard rejects leaves the deterministic reading in its place, and the
path says so. Briefs read together share each role's generate call (batching).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.evocations import apply_evocations, match_literal
from fragrance_ai.domain.families import canonical_family
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.domain.products import ProductType
from fragrance_ai.llm.breaker import CircuitBreaker
from fragrance_ai.llm.cache import ReadingCache, cache_key
from fragrance_ai.llm.constrained import GrammarCache
from fragrance_ai.llm.downshift import ModeGovernor
from fragrance_ai.llm.evocation_embedding import (
    ParaphraseMatcher,
    ParaphraseOutcome,
    ParaphraseReader,
)
from fragrance_ai.llm.loading import PROCESS_MODELS, ModelStore, ModelUnavailable
from fragrance_ai.llm.merge import merge_reading
from fragrance_ai.llm.prompts import hints_chat, parser_chat, validator_chat
from fragrance_ai.llm.reading import (
    FAMILY_VERDICT_SCHEMA,
    HINTS_SCHEMA,
    READING_SCHEMA,
    CreativeHints,
    FamilyVerdict,
    ModelReading,
)
from fragrance_ai.llm.roles import Role
from fragrance_ai.platform.metrics import LLM_CACHE, LLM_DOWNSHIFTS, LLM_MODEL_LOADED
from fragrance_ai.settings import EnsembleRole, InferenceMode, RequestedMode, Settings

log = logging.getLogger(__name__)

# `auto`: a short, literal brief needs no more than the parser; a long, evocative one gets
# the creative roles; the rest is balanced.
AUTO_FAST_MAX_WORDS = 12
AUTO_CREATIVE_MIN_WORDS = 30


@dataclass(frozen=True)
class BriefRequest:
    text: str
    mode: RequestedMode
    product: ProductType | None = None


@dataclass
class BriefReading:
    brief: CreativeBrief
    mode: InferenceMode
    path: dict[str, Any] = field(default_factory=dict)


def pick_mode(text: str, literal: CreativeBrief) -> InferenceMode:
    words = len(text.split())
    if words <= AUTO_FAST_MAX_WORDS and (literal.notes or "families" not in literal.defaults_used):
        return InferenceMode.FAST
    if words >= AUTO_CREATIVE_MIN_WORDS or (literal.moods and not literal.notes):
        return InferenceMode.CREATIVE
    return InferenceMode.BALANCED


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def apply_paraphrases(
    text: str, brief: CreativeBrief, matcher: ParaphraseMatcher, catalogue: Catalogue
) -> tuple[CreativeBrief, ParaphraseOutcome]:
    """The evocations the text's English clauses paraphrase, applied to its literal reading.
    An entry the text names literally is the literal reading's, never a paraphrase's, even
    where the literal reading left it out (named in an avoid list). A paraphrase is a
    suggestion (about half of them were right on held-out texts, docs/llm.md): it adds
    families and soft materials, shown as chips, but never names the structure, lets a clash
    class in, or makes a material a must."""
    literal = {match.evocation.id for match in match_literal(text, matcher.library)}
    outcome = matcher.match(
        text, exclude=set(brief.evocations) | literal, unread=set(brief.unread_words)
    )
    if not outcome.matches:
        return brief, outcome
    suggested = [
        replace(m, evocation=replace(m.evocation, structure=None, accepts=()))
        for m in outcome.matches
    ]
    brief = apply_evocations(brief, suggested, catalogue=catalogue)
    paraphrased = [*brief.paraphrased_evocations, *(m.evocation.id for m in outcome.matches)]
    return brief.model_copy(update={"paraphrased_evocations": paraphrased}), outcome


# The deterministic reading's version, part of every cached reading's key: bump it when the
# parser or the evocation library reads a text differently, so a cache filled before (a brief
# with defaulted families, say) is not served after. 2: issue 25 (evocations, honest reading);
# 3: a denied strong word reads as light, structure phrases, lipstick and clean cotton.
LITERAL_READING_VERSION = 3


class BriefEnsemble:
    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue,
        *,
        store: ModelStore | None = None,
        cache: ReadingCache | None = None,
        governor: ModeGovernor | None = None,
        paraphrases: ParaphraseReader | None = None,
    ) -> None:
        self._settings = settings.llm
        self._catalogue = catalogue
        self._literal = DeterministicBriefParser(catalogue)
        self._store = store or PROCESS_MODELS
        self._cache = cache or ReadingCache(settings.redis_url, settings.llm.cache_ttl_s)
        self.governor = governor or ModeGovernor(settings.llm.downshift)
        self.paraphrases = paraphrases or ParaphraseReader(settings)
        grammars = GrammarCache()
        breaker = settings.llm.breaker
        self.roles = {
            name: Role(
                name,
                role_settings,
                CircuitBreaker(breaker.failure_threshold, breaker.reset_after_s),
                grammars,
            )
            for name, role_settings in settings.llm.roles.items()
        }

    def load(self) -> dict[EnsembleRole, str | None]:
        """Loads every configured role's model once; a role whose model is missing or fails
        to load is marked unavailable with one log line, and the rest carry on. Returns each
        role's model version, or None. The paraphrase matcher loads meanwhile, in the
        background."""
        self.paraphrases.start()
        versions: dict[EnsembleRole, str | None] = {}
        for name, role in self.roles.items():
            started = time.perf_counter()
            try:
                role.loaded = self._store.load(name, role.settings, self._settings.device)
                role.unavailable = None
                log.info(
                    "llm role %s: %s on %s (%.1f s)",
                    name.value,
                    role.loaded.version,
                    role.loaded.device,
                    time.perf_counter() - started,
                )
            except ModelUnavailable as error:
                role.loaded, role.unavailable = None, str(error)
                log.warning("llm role %s unavailable: %s", name.value, error)
            # A role configured without a model is the deterministic parser by design and
            # exports no sample: 0 means a model that should be there is not (an alert).
            if role.settings.model_path is not None:
                LLM_MODEL_LOADED.labels(name.value).set(1 if role.loaded else 0)
            versions[name] = role.version
        return versions

    def model_versions(self) -> list[str]:
        roles = [f"{name.value}={role.version}" for name, role in sorted(self.roles.items())]
        return [
            *roles,
            f"paraphrases={self.paraphrases.version}",
            f"literal={LITERAL_READING_VERSION}",
        ]

    def read(self, request: BriefRequest) -> BriefReading:
        return self.read_many([request])[0]

    def read_many(self, requests: list[BriefRequest]) -> list[BriefReading]:
        started = time.perf_counter()
        readings = [self._start(request) for request in requests]
        pending: list[int] = []
        keys: dict[int, str] = {}
        versions = self.model_versions()
        for index, (request, reading) in enumerate(zip(requests, readings, strict=True)):
            if not reading.brief.understood:
                # A model cannot make noise into a brief; asking one would only cost time.
                reading.path["models"] = "skipped: nothing in the text reads as a brief"
                continue
            key = cache_key(
                request.text,
                reading.mode.value,
                request.product.value if request.product else None,
                versions,
            )
            cached, outcome = self._cache.get(key)
            LLM_CACHE.labels(outcome).inc()
            reading.path["cache"] = outcome
            if cached is not None:
                reading.brief = CreativeBrief.model_validate(cached["brief"])
                reading.path["roles"] = cached["roles"]
                continue
            keys[index] = key
            pending.append(index)

        by_mode: dict[InferenceMode, list[int]] = {}
        for index in pending:
            by_mode.setdefault(readings[index].mode, []).append(index)
        for mode, indices in by_mode.items():
            self._run_roles(mode, [requests[i] for i in indices], [readings[i] for i in indices])

        for index in pending:
            reading = readings[index]
            roles = reading.path.get("roles", {})
            ok = not any(entry.get("fallback") for entry in roles.values())
            seconds = sum(entry.get("seconds", 0.0) for entry in roles.values())
            self.governor.record(reading.mode, seconds, ok)
            if ok:
                self._cache.put(
                    keys[index], {"brief": reading.brief.model_dump(mode="json"), "roles": roles}
                )
        elapsed = time.perf_counter() - started
        for reading in readings:
            reading.path["seconds"] = round(elapsed, 3)
            reading.path["batch"] = len(requests)
        return readings

    def _start(self, request: BriefRequest) -> BriefReading:
        literal_started = time.perf_counter()
        literal = self._literal.parse(request.text, product=request.product)
        literal_s = time.perf_counter() - literal_started
        literal, paraphrases = self._paraphrase(request.text, literal)
        if request.mode is RequestedMode.AUTO:
            asked = pick_mode(request.text, literal)
        else:
            asked = InferenceMode(request.mode.value)
        mode = self.governor.effective(asked)
        path: dict[str, Any] = {
            "requested_mode": request.mode.value,
            "mode": mode.value,
            "deterministic_seconds": round(literal_s, 4),
            "paraphrases": paraphrases,
        }
        if mode is not asked:
            path["downshifted_from"] = asked.value
            LLM_DOWNSHIFTS.labels(asked.value, mode.value).inc()
        return BriefReading(brief=literal, mode=mode, path=path)

    def _paraphrase(self, text: str, brief: CreativeBrief) -> tuple[CreativeBrief, dict[str, Any]]:
        """The evocations the text's English clauses paraphrase, applied to the literal
        reading. An entry the text names literally is the literal reading's, never a
        paraphrase's, even where the literal reading left it out (named in an avoid list)."""
        if not self.paraphrases.enabled:
            return brief, {"outcome": "off"}
        matcher = self.paraphrases.get()
        if matcher is None:
            return brief, {"outcome": "unavailable", "reason": self.paraphrases.unavailable}
        started = time.perf_counter()
        brief, outcome = apply_paraphrases(text, brief, matcher, self._catalogue)
        path: dict[str, Any] = {
            "outcome": "matched" if outcome.matches else "none",
            "model": matcher.version,
            "matches": [
                {"id": m.evocation.id, "clause": m.phrase, "score": m.score}
                for m in outcome.matches
            ],
            "clauses": len(outcome.clauses),
            "seconds": round(time.perf_counter() - started, 4),
        }
        if outcome.korean_clauses:
            # English-only model: the literal matcher reads the Korean (phrases_ko).
            path["korean_clauses_left_to_literal"] = outcome.korean_clauses
        return brief, path

    def _run_roles(
        self, mode: InferenceMode, requests: list[BriefRequest], readings: list[BriefReading]
    ) -> None:
        roles = self._settings.modes.get(mode, [])
        texts = [request.text for request in requests]
        seeds = [_seed(text) for text in texts]
        paths: list[dict[str, Any]] = [reading.path.setdefault("roles", {}) for reading in readings]
        if EnsembleRole.PARSER in roles and EnsembleRole.PARSER in self.roles:
            calls = self.roles[EnsembleRole.PARSER].call(
                [parser_chat(text) for text in texts],
                READING_SCHEMA,
                ModelReading,
                mode=mode.value,
                seeds=seeds,
            )
            for reading, call, path, text in zip(readings, calls, paths, texts, strict=True):
                path["parser"] = call.path()
                if call.record is None:
                    continue
                outcome = merge_reading(
                    text,
                    reading.brief,
                    call.record,
                    self._catalogue,
                    fills=frozenset(self._settings.model_fills),
                )
                reading.brief = outcome.brief
                path["parser"].update(
                    from_model=outcome.from_model,
                    conflicts=outcome.conflicts,
                    ignored=outcome.ignored,
                    suggested=outcome.suggested,
                )
        if EnsembleRole.VALIDATOR in roles:
            self._validate(mode, texts, seeds, readings, paths)
        if EnsembleRole.CREATIVE_HINTS in roles and EnsembleRole.CREATIVE_HINTS in self.roles:
            self._hints(mode, texts, seeds, readings, paths)

    def _validate(
        self,
        mode: InferenceMode,
        texts: list[str],
        seeds: list[int],
        readings: list[BriefReading],
        paths: list[dict[str, Any]],
    ) -> None:
        """Code has already normalised everything (merge_reading); the model is asked only
        where its answer can be used: the text names no family. Where the text names some,
        they stand (the merge rule), so asking would cost a call and change nothing."""
        asked = [
            i for i, reading in enumerate(readings) if "families" in reading.brief.defaults_used
        ]
        for i, path in enumerate(paths):
            if i not in asked:
                path["validator"] = {"outcome": "not_needed", "model": None}
        role = self.roles.get(EnsembleRole.VALIDATOR)
        if not asked or role is None:
            return
        calls = role.call(
            [validator_chat(texts[i], readings[i].brief.families) for i in asked],
            FAMILY_VERDICT_SCHEMA,
            FamilyVerdict,
            mode=mode.value,
            seeds=[seeds[i] for i in asked],
        )
        for i, call in zip(asked, calls, strict=True):
            paths[i]["validator"] = call.path()
            if call.record is None:
                continue
            brief = readings[i].brief
            avoided = set(brief.avoid)
            confirmed = [
                family
                for family in dict.fromkeys(canonical_family(f) for f in call.record.families)
                if family not in avoided
            ]
            if confirmed:
                readings[i].brief = brief.model_copy(
                    update={
                        "families": confirmed,
                        "defaults_used": [d for d in brief.defaults_used if d != "families"],
                    }
                )
                paths[i]["validator"]["patched"] = ["families"]

    def _hints(
        self,
        mode: InferenceMode,
        texts: list[str],
        seeds: list[int],
        readings: list[BriefReading],
        paths: list[dict[str, Any]],
    ) -> None:
        calls = self.roles[EnsembleRole.CREATIVE_HINTS].call(
            [
                hints_chat(text, reading.brief)
                for text, reading in zip(texts, readings, strict=True)
            ],
            HINTS_SCHEMA,
            CreativeHints,
            mode=mode.value,
            seeds=seeds,
        )
        for reading, call, path in zip(readings, calls, paths, strict=True):
            path["creative_hints"] = call.path()
            if call.record is None:
                continue
            hints = [hint.strip() for hint in call.record.hints if hint.strip()]
            # The materials the hints name, read by the same lexicon: soft preferences.
            named = self._literal.parse(" . ".join(hints)).notes
            if "hints" not in self._settings.model_fills:
                # Not earned on bench/llm.py: recorded, and the design reads nothing of it.
                path["creative_hints"]["suggested"] = {"hints": hints, "preferred_notes": named}
                continue
            brief = reading.brief
            preferred = list(brief.preferred_notes)
            for name in named:
                if name not in brief.notes and name not in brief.avoid and name not in preferred:
                    preferred.append(name)
            reading.brief = brief.model_copy(update={"hints": hints, "preferred_notes": preferred})

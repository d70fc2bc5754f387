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

No design waits for a reader that cannot change it (issue 26). A role reads before the
design only when a field of its own is in `llm.model_fills` (earned on bench/llm.py) and its
model has loaded; the others, and the paraphrase matcher while it loads, read after the
design has started (`read_later`), and what they find is kept as suggestions
(late_reading.py). A worker loads the models in the background from its start
(`start_loading`), so loading never delays a brief either.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
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
from fragrance_ai.llm.downshift import ModeGovernor
from fragrance_ai.llm.evocation_embedding import (
    ParaphraseMatcher,
    ParaphraseOutcome,
    ParaphraseReader,
)
from fragrance_ai.llm.grammars import GrammarCache
from fragrance_ai.llm.late_reading import (
    PARAPHRASES,
    Suggestions,
    family_suggestions,
    hint_suggestions,
    parser_suggestions,
)
from fragrance_ai.llm.loading import PROCESS_MODELS, ModelStore, ModelUnavailable
from fragrance_ai.llm.merge import ALL_FILLS, merge_reading
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

# The `llm.model_fills` fields through which each role's reading reaches the design. A role
# with none of its own there cannot change a design, so no design waits for it.
ROLE_FILLS: dict[EnsembleRole, frozenset[str]] = {
    EnsembleRole.PARSER: ALL_FILLS,
    EnsembleRole.VALIDATOR: frozenset({"families"}),
    EnsembleRole.CREATIVE_HINTS: frozenset({"hints"}),
}


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
    # The readers that read this brief after its design has started: "paraphrases" or a
    # role's name (`BriefEnsemble.read_later`).
    later: list[str] = field(default_factory=list)


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
        background: bool = False,
    ) -> None:
        """`background`: the models are loaded by `start_loading`, whenever the process
        calls it; until then every model reads as loading. Otherwise the first reading loads
        them (a script, a test)."""
        self._background = background
        self._settings = settings.llm
        self._catalogue = catalogue
        self._literal = DeterministicBriefParser(catalogue)
        self._store = store or PROCESS_MODELS
        self._cache = cache or ReadingCache(settings.redis_url, settings.llm.cache_ttl_s)
        self.governor = governor or ModeGovernor(settings.llm.downshift)
        self.paraphrases = paraphrases or ParaphraseReader(settings)
        self._fills = frozenset(settings.llm.model_fills)
        self._loading_started = False
        # Set once every model has loaded or failed to, the paraphrase matcher's included.
        self._loaded = threading.Event()
        self._load_lock = threading.Lock()
        self._on_loaded: list[Callable[[], None]] = []
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

    def start_loading(self) -> None:
        """Loads the models in the background (a worker, from its start): briefs read
        meanwhile are designed from what has loaded, and the rest read them later."""
        if not self._claim_loading():
            return
        # Not a daemon, as the paraphrase matcher's: torch torn down under a running daemon
        # thread aborts the process.
        threading.Thread(target=self._load_roles, name="llm-models-load", daemon=False).start()

    def load(self) -> dict[EnsembleRole, str | None]:
        """Loads every configured role's model, now; a role whose model is missing or fails
        to load is marked unavailable with one log line, and the rest carry on. Returns each
        role's model version, or None. The paraphrase matcher is loaded first."""
        if self._claim_loading():
            self._load_roles()
        self.wait_until_loaded()
        return {name: role.version for name, role in self.roles.items()}

    def wait_until_loaded(self) -> None:
        self._loaded.wait()

    @property
    def loading(self) -> bool:
        return not self._loaded.is_set()

    def when_loaded(self, callback: Callable[[], None]) -> None:
        """Runs `callback` once every model has loaded (or failed to): now, or from the
        loading thread. How a late reading waits for its models without holding a queue's
        worker, which has briefs to read meanwhile."""
        with self._load_lock:
            if not self._loaded.is_set():
                self._on_loaded.append(callback)
                return
        callback()

    def model_states(self) -> dict[str, str]:
        """Each reader's state for /ready and the workbench: "loaded: <version>", "loading",
        "unavailable: <why>", or "none" (a role configured without a model: the
        deterministic code by design) or "off" (the paraphrase matcher switched off)."""
        states: dict[str, str] = {}
        for name, role in sorted(self.roles.items()):
            if not role.has_model:
                states[name.value] = "none"
            elif role.loaded is not None:
                states[name.value] = f"loaded: {role.loaded.version}"
            elif not role.attempted:
                states[name.value] = "loading"
            else:
                states[name.value] = f"unavailable: {role.unavailable}"
        states[PARAPHRASES] = self.paraphrases.state
        return states

    def _claim_loading(self) -> bool:
        with self._load_lock:
            if self._loading_started:
                return False
            self._loading_started = True
            return True

    def _load_roles(self) -> None:
        try:
            # The paraphrase matcher first (every brief uses it), then the roles, one after
            # the other: two threads importing transformers for the first time at once break
            # its lazy imports ("cannot import name 'AutoModel' from 'transformers'": the
            # matcher was lost that way in CI's smoke). Its own thread, waited for here.
            self.paraphrases.get()
            self._load_each_role()
        finally:
            with self._load_lock:
                self._loaded.set()
                callbacks, self._on_loaded = self._on_loaded, []
            for callback in callbacks:
                try:
                    callback()
                except Exception:  # one caller's failure is not the others'
                    log.exception("a callback waiting for the models failed")

    def _load_each_role(self) -> None:
        for name, role in self.roles.items():
            if not role.has_model:
                role.unavailable, role.attempted = "no model configured", True
                continue
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
            except Exception as error:  # the worker reads on with the deterministic code
                role.loaded, role.unavailable = None, f"{type(error).__name__}: {error}"
                log.exception("llm role %s failed to load", name.value)
            role.attempted = True
            # A role configured without a model is the deterministic parser by design and
            # exports no sample: 0 means a model that should be there is not (an alert).
            LLM_MODEL_LOADED.labels(name.value).set(1 if role.loaded else 0)

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
        """The readings the design starts from: the deterministic reading, the paraphrases
        and the roles that have earned a field, each as far as its model has loaded. What
        reads later is listed in each reading's `later` (see `read_later`)."""
        if not self._loading_started and not self._background:
            # Nobody started the models (a script, a test): load them now, before reading.
            self.load()
        started = time.perf_counter()
        # What is still loading reads later, so a reading made meanwhile is not cached: the
        # same text read once everything has loaded may read differently.
        cacheable = not self.loading
        readings = [self._start(request) for request in requests]
        pending: list[int] = []
        keys: dict[int, str] = {}
        versions = self.model_versions()
        for index, (request, reading) in enumerate(zip(requests, readings, strict=True)):
            if not reading.brief.understood:
                # A model cannot make noise into a brief; asking one would only cost time.
                reading.path["models"] = "skipped: nothing in the text reads as a brief"
                reading.later.clear()
                continue
            self._plan_roles(reading)
            if not cacheable:
                reading.path["cache"] = "skipped: models loading"
                pending.append(index)
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
                reading.path["roles"] = {**reading.path["roles"], **cached["roles"]}
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
            if ok and index in keys:
                self._cache.put(
                    keys[index], {"brief": reading.brief.model_dump(mode="json"), "roles": roles}
                )
        elapsed = time.perf_counter() - started
        for reading in readings:
            reading.path["seconds"] = round(elapsed, 3)
            reading.path["batch"] = len(requests)
        return readings

    def _plan_roles(self, reading: BriefReading) -> None:
        """Which of the mode's roles read before the design and which after it. A role
        reads before when it can change the design (a field of its own in model_fills) and
        its model has loaded, or failed to (the fallback is then recorded at once); after,
        when it cannot, or is still loading; `llm.suggestions: skip` drops the latter."""
        roles = reading.path.setdefault("roles", {})
        for name in self._settings.modes.get(reading.mode, []):
            role = self.roles.get(name)
            if role is None or not role.has_model or self._reads_first(name):
                continue
            if name is EnsembleRole.VALIDATOR and "families" not in reading.brief.defaults_used:
                continue  # asked only where the text names no family (_validate)
            why = "still loading" if not role.attempted else "no field of its own is earned"
            if self._settings.suggestions == "skip":
                roles[name.value] = {"outcome": "skipped", "why": why}
            else:
                roles[name.value] = {"outcome": "after_design", "why": why}
                reading.later.append(name.value)

    def _reads_first(self, name: EnsembleRole) -> bool:
        role = self.roles.get(name)
        if role is None or not role.has_model or not role.attempted:
            return False
        return role.loaded is None or bool(ROLE_FILLS[name] & self._fills)

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
        later = [PARAPHRASES] if paraphrases["outcome"] == "after_design" else []
        return BriefReading(brief=literal, mode=mode, path=path, later=later)

    def _paraphrase(self, text: str, brief: CreativeBrief) -> tuple[CreativeBrief, dict[str, Any]]:
        """The evocations the text's English clauses paraphrase, applied to the literal
        reading. An entry the text names literally is the literal reading's, never a
        paraphrase's, even where the literal reading left it out (named in an avoid list)."""
        if not self.paraphrases.enabled:
            return brief, {"outcome": "off"}
        if self.paraphrases.loading:
            if self._settings.suggestions == "skip":
                return brief, {"outcome": "skipped", "why": "still loading"}
            return brief, {"outcome": "after_design", "why": "still loading"}
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
        roles = [name for name in self._settings.modes.get(mode, []) if self._reads_first(name)]
        texts = [request.text for request in requests]
        seeds = [_seed(text) for text in texts]
        paths: list[dict[str, Any]] = [reading.path.setdefault("roles", {}) for reading in readings]
        if EnsembleRole.PARSER in roles:
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
        if EnsembleRole.CREATIVE_HINTS in roles:
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
            hints, named = self._hints_and_materials(call.record)
            brief = reading.brief
            preferred = list(brief.preferred_notes)
            for name in named:
                if name not in brief.notes and name not in brief.avoid and name not in preferred:
                    preferred.append(name)
            reading.brief = brief.model_copy(update={"hints": hints, "preferred_notes": preferred})

    def _hints_and_materials(self, record: CreativeHints) -> tuple[list[str], list[str]]:
        hints = [hint.strip() for hint in record.hints if hint.strip()]
        # The materials the hints name, read by the same lexicon: soft preferences.
        return hints, self._literal.parse(" . ".join(hints)).notes

    def read_later(
        self, requests: list[BriefRequest], readings: list[BriefReading]
    ) -> list[Suggestions]:
        """What each reading's `later` readers find, once their models have loaded: the
        suggestions kept on the brief. Nothing here changes a reading or a design; briefs
        read together still share each role's generate call."""
        self.load()  # waits for a load under way, or makes one
        batch = _LateBatch(
            texts=[request.text for request in requests],
            readings=readings,
            found=[Suggestions() for _ in readings],
        )
        for index, reading in enumerate(readings):
            if PARAPHRASES in reading.later:
                batch.found[index].readers[PARAPHRASES] = self._late_paraphrases(
                    batch.texts[index], reading.brief, batch.found[index]
                )
        for mode, indices in batch.waiting_for(EnsembleRole.PARSER):
            self._late_parser(mode, indices, batch)
        for mode, indices in batch.waiting_for(EnsembleRole.VALIDATOR):
            self._late_validator(mode, indices, batch)
        for mode, indices in batch.waiting_for(EnsembleRole.CREATIVE_HINTS):
            self._late_hints(mode, indices, batch)
        known = set(self._catalogue.families())
        for suggestions in batch.found:
            suggestions.keep_families(known)
        return batch.found

    def _late_paraphrases(
        self, text: str, brief: CreativeBrief, into: Suggestions
    ) -> dict[str, Any]:
        matcher = self.paraphrases.get()
        if matcher is None:
            return {"outcome": "unavailable", "reason": self.paraphrases.unavailable}
        started = time.perf_counter()
        _, outcome = apply_paraphrases(text, brief, matcher, self._catalogue)
        into.add("evocations", [m.evocation.id for m in outcome.matches])
        return {
            "outcome": "ok",
            "model": matcher.version,
            "seconds": round(time.perf_counter() - started, 4),
        }

    def _late_parser(self, mode: InferenceMode, indices: list[int], batch: _LateBatch) -> None:
        calls = self.roles[EnsembleRole.PARSER].call(
            [parser_chat(batch.texts[i]) for i in indices],
            READING_SCHEMA,
            ModelReading,
            mode=mode.value,
            seeds=batch.seeds(indices),
        )
        for i, call in zip(indices, calls, strict=True):
            path = batch.found[i].readers[EnsembleRole.PARSER.value] = call.path()
            if call.record is not None:
                brief = batch.readings[i].brief
                path.update(
                    parser_suggestions(
                        batch.texts[i], brief, call.record, self._catalogue, batch.found[i]
                    )
                )

    def _late_validator(self, mode: InferenceMode, indices: list[int], batch: _LateBatch) -> None:
        # Asked only where the text names no family, as before the design (_validate).
        needed = [i for i in indices if "families" in batch.readings[i].brief.defaults_used]
        for i in indices:
            if i not in needed:
                batch.found[i].readers[EnsembleRole.VALIDATOR.value] = {"outcome": "not_needed"}
        if not needed:
            return
        calls = self.roles[EnsembleRole.VALIDATOR].call(
            [validator_chat(batch.texts[i], batch.readings[i].brief.families) for i in needed],
            FAMILY_VERDICT_SCHEMA,
            FamilyVerdict,
            mode=mode.value,
            seeds=batch.seeds(needed),
        )
        for i, call in zip(needed, calls, strict=True):
            batch.found[i].readers[EnsembleRole.VALIDATOR.value] = call.path()
            if call.record is not None:
                families = [canonical_family(f) for f in call.record.families]
                family_suggestions(batch.readings[i].brief, families, batch.found[i])

    def _late_hints(self, mode: InferenceMode, indices: list[int], batch: _LateBatch) -> None:
        calls = self.roles[EnsembleRole.CREATIVE_HINTS].call(
            [hints_chat(batch.texts[i], batch.readings[i].brief) for i in indices],
            HINTS_SCHEMA,
            CreativeHints,
            mode=mode.value,
            seeds=batch.seeds(indices),
        )
        for i, call in zip(indices, calls, strict=True):
            batch.found[i].readers[EnsembleRole.CREATIVE_HINTS.value] = call.path()
            if call.record is not None:
                hints, named = self._hints_and_materials(call.record)
                hint_suggestions(batch.readings[i].brief, hints, named, batch.found[i])


@dataclass
class _LateBatch:
    """Briefs read late together: each role answers all of a mode's in one generate call."""

    texts: list[str]
    readings: list[BriefReading]
    found: list[Suggestions]

    def seeds(self, indices: list[int]) -> list[int]:
        return [_seed(self.texts[i]) for i in indices]

    def waiting_for(self, role: EnsembleRole) -> list[tuple[InferenceMode, list[int]]]:
        by_mode: dict[InferenceMode, list[int]] = {}
        for index, reading in enumerate(self.readings):
            if role.value in reading.later:
                by_mode.setdefault(reading.mode, []).append(index)
        return list(by_mode.items())

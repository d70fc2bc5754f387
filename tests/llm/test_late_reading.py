"""Issue 26: a model contributes to the design only what it has earned, and no design waits
for a reader that cannot change it or that is still loading. The models here are scripted:
their `generate` writes a fixed answer (the notes a small model parroted from its prompt),
and may be held back, so what waits for what is seen, not timed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from fragrance_ai.api.app import create_app
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.llm import ensemble as ensemble_module
from fragrance_ai.llm.cache import ReadingCache
from fragrance_ai.llm.ensemble import BriefEnsemble, BriefRequest
from fragrance_ai.llm.loading import LoadedModel, ModelStore
from fragrance_ai.llm.roles import Role
from fragrance_ai.optimize.space import build_space
from fragrance_ai.runtime import build_runtime, install_runtime
from fragrance_ai.settings import Device, EnsembleRole, RequestedMode, RoleSettings, Settings
from tests.conftest import make_settings
from tests.helpers import wait_for_job

AMBER = "warm amber vanilla evening perfume with benzoin"
# What SmolLM2-135M answered for AMBER: its prompt's worked example.
PARROTED = {
    "families": ["citrus", "fresh"],
    "notes": ["bergamot", "neroli"],
    "moods": ["uplifting"],
    "seasons": ["summer"],
    "intensity": "light",
}
HINTS = {"hints": ["a bergamot top to lift the resin", "clove against the vanilla", "labdanum"]}


class ScriptedStore(ModelStore):
    """Every role "loads" at once, unless `loading` is held back."""

    def __init__(self) -> None:
        super().__init__()
        self.loading = threading.Event()
        self.loading.set()

    def load(
        self, role: EnsembleRole, settings: RoleSettings, default_device: Device
    ) -> LoadedModel:
        self.loading.wait(timeout=60)
        return LoadedModel(model=None, tokenizer=None, device="cpu", version=f"scripted-{role}")


@pytest.fixture
def answering(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Scripts every role's generate call; it answers once the event is set (set already)."""
    gate = threading.Event()
    gate.set()
    answers = {
        EnsembleRole.PARSER: json.dumps(PARROTED),
        EnsembleRole.VALIDATOR: json.dumps({"families": ["amber"]}),
        EnsembleRole.CREATIVE_HINTS: json.dumps(HINTS),
    }

    def generate(  # noqa: PLR0917 - Role._generate's signature
        self: Role,
        chats: list[object],
        schema: object,
        mode: str,
        seeds: list[int],
        indices: list[int],
    ) -> list[tuple[str, int, bool, bool, float]]:
        gate.wait(timeout=60)
        return [(answers[self.name], 12, True, False, 0.01) for _ in chats]

    monkeypatch.setattr(Role, "_generate", generate)
    return gate


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def _settings(tmp_path: Path, fills: list[str]) -> Settings:
    scripted = RoleSettings(model_path="/scripted")
    return make_settings(
        tmp_path,
        llm={
            "roles": {role: scripted for role in EnsembleRole},
            "model_fills": fills,
            "paraphrases": {"enabled": False},
        },
    )


def _ensemble(settings: Settings, catalogue: Catalogue, store: ModelStore) -> BriefEnsemble:
    return BriefEnsemble(settings, catalogue, store=store, cache=ReadingCache(None, 0))


def test_unearned_model_notes_are_suggestions_and_earned_ones_reach_the_design(
    tmp_path: Path, catalogue: Catalogue, answering: threading.Event
) -> None:
    request = BriefRequest(AMBER, RequestedMode.CREATIVE)
    unearned = _ensemble(_settings(tmp_path, []), catalogue, ScriptedStore())
    [reading] = unearned.read_many([request])
    assert "Bergamot oil" not in reading.brief.preferred_notes
    assert reading.brief.seasons == []
    assert reading.brief.hints == []
    assert reading.later == ["parser", "creative_hints"]  # the text names amber: no validator
    roles = reading.path["roles"]
    assert roles["parser"] == {"outcome": "after_design", "why": "no field of its own is earned"}
    [found] = unearned.read_later([request], [reading])
    assert {"Bergamot oil", "Neroli oil"} <= set(found.fields["notes"])
    assert found.fields["seasons"] == ["summer"]
    assert found.fields["hints"] == HINTS["hints"]
    assert found.readers["parser"]["outcome"] == "ok"

    earned = _ensemble(_settings(tmp_path, ["preferred_notes"]), catalogue, ScriptedStore())
    [read_first] = earned.read_many([request])
    assert read_first.brief.preferred_notes[-2:] == ["Bergamot oil", "Neroli oil"]
    assert read_first.later == ["creative_hints"]
    # The parser model's other fields are not earned: recorded, not applied.
    assert read_first.brief.seasons == []
    # The design's target moves only with the earned notes.
    assert not np.allclose(
        build_space(catalogue, read_first.brief).target,
        build_space(catalogue, reading.brief).target,
    )


def test_a_model_still_loading_never_delays_a_reading_even_an_earned_one(
    tmp_path: Path, catalogue: Catalogue, answering: threading.Event
) -> None:
    store = ScriptedStore()
    store.loading.clear()
    ensemble = _ensemble(_settings(tmp_path, ["preferred_notes"]), catalogue, store)
    ensemble.start_loading()
    assert ensemble.model_states()["parser"] == "loading"
    started = time.perf_counter()
    [reading] = ensemble.read_many([BriefRequest(AMBER, RequestedMode.FAST)])
    assert time.perf_counter() - started < 5  # the load waits up to 60 s
    assert reading.later == ["parser"]
    assert reading.path["roles"]["parser"]["why"] == "still loading"
    assert reading.path["cache"] == "skipped: models loading"
    assert "Bergamot oil" not in reading.brief.preferred_notes
    store.loading.set()
    ensemble.wait_until_loaded()
    assert ensemble.model_states()["parser"] == "loaded: scripted-parser"
    [later] = ensemble.read_many([BriefRequest(AMBER, RequestedMode.FAST)])
    assert later.later == []
    assert "Bergamot oil" in later.brief.preferred_notes


def test_the_profile_can_skip_what_would_read_late(
    tmp_path: Path, catalogue: Catalogue, answering: threading.Event
) -> None:
    settings = _settings(tmp_path, [])
    settings = settings.model_copy(
        update={"llm": settings.llm.model_copy(update={"suggestions": "skip"})}
    )
    [reading] = _ensemble(settings, catalogue, ScriptedStore()).read_many(
        [BriefRequest(AMBER, RequestedMode.FAST)]
    )
    assert reading.later == []
    assert reading.path["roles"]["parser"]["outcome"] == "skipped"


@pytest.fixture
def held_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answering: threading.Event
) -> Iterator[TestClient]:
    """The embedded default with scripted models that answer only when `answering` is set."""
    monkeypatch.setattr(ensemble_module, "PROCESS_MODELS", ScriptedStore())
    runtime = build_runtime(_settings(tmp_path, []))
    upgrade_to_head(runtime.engine)
    install_runtime(runtime)
    try:
        with TestClient(create_app(runtime)) as client:
            yield client
    finally:
        answering.set()
        runtime.close()
        install_runtime(None)


def test_the_design_finishes_while_the_models_still_read_and_their_suggestions_follow(
    held_client: TestClient, answering: threading.Event
) -> None:
    answering.clear()  # every model call blocks until the end of the design
    accepted = held_client.post(
        "/v1/briefs", json={"text": AMBER, "mode": "creative", "seed": 3}
    ).json()
    job = wait_for_job(held_client, str(accepted["job_id"]), timeout_s=120)
    assert job["status"] == "finished", job
    assert len(job["result"]["formula_ids"]) >= 1
    [note] = [n for n in job["result"]["reading_notes"] if "without waiting" in n]
    assert "the parser model" in note
    assert "creative hints" in note
    brief_url = f"/v1/briefs/{accepted['brief_id']}"
    brief = held_client.get(brief_url).json()
    assert brief["suggestions"]["state"] == "reading"
    assert "Bergamot oil" not in brief["parsed"]["preferred_notes"]
    # The ready endpoint says which readers this process has loaded.
    assert held_client.get("/ready").json()["models"]["parser"] == "loaded: scripted-parser"

    answering.set()
    deadline = time.monotonic() + 60
    while brief["suggestions"]["state"] == "reading" and time.monotonic() < deadline:
        time.sleep(0.1)
        brief = held_client.get(brief_url).json()
    suggestions = brief["suggestions"]
    assert suggestions["state"] == "ready", suggestions
    assert {"Bergamot oil", "Neroli oil"} <= set(suggestions["fields"]["notes"])
    assert suggestions["fields"]["hints"] == HINTS["hints"]
    # Suggestions only: the brief the options were designed from is unchanged.
    assert held_client.get(brief_url).json()["parsed"] == brief["parsed"]


def test_a_production_worker_is_not_ready_while_its_models_load_and_says_so(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    """Briefs are read meanwhile (above), but a deploy's health check waits for the models
    the host was deployed for (fragrance_ai/worker/probes.py)."""
    from fragrance_ai.settings import AppEnv
    from fragrance_ai.worker.probes import worker_readiness

    store = ScriptedStore()
    store.loading.clear()
    settings = _settings(tmp_path, []).model_copy(update={"app_env": AppEnv.PRODUCTION})
    ensemble = _ensemble(settings, catalogue, store)
    ensemble.start_loading()
    ready, detail = worker_readiness(settings, lambda: (True, "alive"), ensemble)
    assert not ready
    assert "parser: still loading" in detail
    store.loading.set()
    ensemble.wait_until_loaded()
    assert worker_readiness(settings, lambda: (True, "alive"), ensemble)[0]

"""Done-when of the LLM worker: a brief submitted over HTTP in each mode (and auto) finishes
with a valid brief and options, with the path it took recorded; SmolLM2, which earns no field,
reads it after the design, and its reading arrives on the brief as suggestions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fragrance_ai.api.app import create_app
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.llm.loading import LoadedModel
from fragrance_ai.runtime import build_runtime, install_runtime
from fragrance_ai.settings import EnsembleRole, InferenceMode, LLMSettings
from tests.conftest import make_settings
from tests.helpers import wait_for_job
from tests.llm.conftest import smollm2_role


@pytest.fixture
def client(tmp_path: Path, smollm2: LoadedModel) -> Iterator[TestClient]:
    role = smollm2_role()
    llm = LLMSettings(
        roles=dict.fromkeys(EnsembleRole, role),
        modes={
            InferenceMode.FAST: [EnsembleRole.PARSER],
            InferenceMode.BALANCED: [EnsembleRole.PARSER, EnsembleRole.VALIDATOR],
            InferenceMode.CREATIVE: list(EnsembleRole),
        },
    )
    runtime = build_runtime(make_settings(tmp_path, llm=llm))
    upgrade_to_head(runtime.engine)
    with TestClient(create_app(runtime)) as client:
        yield client
    runtime.close()
    install_runtime(None)


@pytest.mark.parametrize("mode", ["fast", "balanced", "creative", "auto"])
def test_a_brief_in_each_mode_is_read_by_smollm2_and_designed(
    client: TestClient, smollm2: LoadedModel, mode: str
) -> None:
    text = "상큼한 시트러스와 가벼운 머스크, 여름에 어울리는 데일리 향수"
    accepted = client.post("/v1/briefs", json={"text": text, "mode": mode}).json()
    job = wait_for_job(client, accepted["job_id"], timeout_s=600)
    assert job["status"] == "finished", job
    assert job["result"]["formula_ids"]
    brief = client.get(f"/v1/briefs/{accepted['brief_id']}").json()
    assert brief["parsed"]["families"][:2] == ["citrus", "musky"]
    assert brief["options"]
    assert all(option["compliant"] for option in brief["options"])
    reading = brief["reading"]
    assert reading["requested_mode"] == mode
    assert reading["mode"] == brief["mode"] != "auto"
    assert reading["roles"]["parser"]["outcome"] == "after_design"
    assert job["result"]["reading"] == reading
    deadline = time.monotonic() + 600
    while brief["suggestions"]["state"] == "reading" and time.monotonic() < deadline:
        time.sleep(0.5)
        brief = client.get(f"/v1/briefs/{accepted['brief_id']}").json()
    suggestions = brief["suggestions"]
    assert suggestions["state"] == "ready", suggestions
    assert suggestions["readers"]["parser"]["model"] == smollm2.version

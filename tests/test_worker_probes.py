"""A worker's /health and /ready on its metrics port: in production, an LLM worker whose
configured models did not load is alive but not ready, and says which and why; outside
production it is ready and says so too. A role configured without a model counts for neither
readiness nor fragrance_llm_model_loaded (the alerts' metric)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.llm.cache import ReadingCache
from fragrance_ai.llm.ensemble import BriefEnsemble
from fragrance_ai.llm.loading import LoadedModel, ModelStore, ModelUnavailable
from fragrance_ai.platform.metrics import LLM_MODEL_LOADED
from fragrance_ai.settings import AppEnv, Device, EnsembleRole, LLMSettings, RoleSettings
from fragrance_ai.worker.probes import models_not_loaded, serve_probes, worker_readiness
from tests.conftest import make_settings
from tests.helpers import free_port

NO_GPU = "device cuda was asked for but torch sees no GPU"


class _Store(ModelStore):
    """Loads "/models/good" and nothing else, as a host without a GPU would."""

    def load(
        self, role: EnsembleRole, settings: RoleSettings, default_device: Device
    ) -> LoadedModel:
        if settings.model_path is None:
            raise ModelUnavailable(f"{role.value}: no model_path configured")
        if settings.model_path == "/models/good":
            return LoadedModel(model=None, tokenizer=None, device="cpu", version="good@1")
        raise ModelUnavailable(NO_GPU)


def _ensemble(tmp_path: Path, app_env: AppEnv) -> BriefEnsemble:
    roles = {
        EnsembleRole.PARSER: RoleSettings(model_path="/models/good"),
        EnsembleRole.VALIDATOR: RoleSettings(model_path="/models/7b"),
        EnsembleRole.CREATIVE_HINTS: RoleSettings(model_path=None),  # by design: no model
    }
    settings = make_settings(tmp_path, app_env=app_env, llm=LLMSettings(roles=roles))
    ensemble = BriefEnsemble(
        settings, load_catalogue(), store=_Store(), cache=ReadingCache(None, 0)
    )
    ensemble.load()
    return ensemble


def _alive() -> tuple[bool, str]:
    return True, "llm-host-1: RQ heartbeat live"


def test_a_configured_model_that_did_not_load_is_named_and_exported_as_0(
    tmp_path: Path,
) -> None:
    LLM_MODEL_LOADED.clear()
    ensemble = _ensemble(tmp_path, AppEnv.PRODUCTION)
    assert models_not_loaded(ensemble) == {"validator": NO_GPU}

    def loaded(role: str) -> float | None:
        return REGISTRY.get_sample_value("fragrance_llm_model_loaded", {"role": role})

    assert (loaded("parser"), loaded("validator")) == (1.0, 0.0)
    # The deterministic parser standing in for a role without a model is no outage.
    assert loaded("creative_hints") is None


def test_in_production_a_worker_missing_a_configured_model_is_not_ready(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, app_env=AppEnv.PRODUCTION)
    ensemble = _ensemble(tmp_path, AppEnv.PRODUCTION)
    assert worker_readiness(settings, _alive, ensemble) == (
        False,
        f"models not loaded: validator: {NO_GPU}",
    )


@pytest.mark.parametrize("app_env", [AppEnv.DEVELOPMENT, AppEnv.STAGING])
def test_outside_production_a_missing_model_is_reported_not_refused(
    tmp_path: Path, app_env: AppEnv
) -> None:
    settings = make_settings(tmp_path, app_env=app_env)
    ready, detail = worker_readiness(settings, _alive, _ensemble(tmp_path, app_env))
    assert ready
    assert detail == (
        f"llm-host-1: RQ heartbeat live; models not loaded ({app_env.value} allows it): "
        f"validator: {NO_GPU}"
    )


def test_ready_needs_alive_first_and_an_rl_worker_needs_no_model(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, app_env=AppEnv.PRODUCTION)
    assert worker_readiness(settings, lambda: (False, "no heartbeat yet"), None) == (
        False,
        "no heartbeat yet",
    )
    assert worker_readiness(settings, _alive, None) == _alive()


def test_the_probe_server_answers_each_probe_and_metrics_beside_them() -> None:
    port = free_port()
    server = serve_probes(
        "127.0.0.1",
        port,
        {"/health": _alive, "/ready": lambda: (False, "models not loaded: parser: gone")},
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            health = client.get("/health")
            assert health.status_code == 200
            assert health.json() == {"status": "ok", "detail": "llm-host-1: RQ heartbeat live"}
            ready = client.get("/ready?verbose=1")
            assert ready.status_code == 503
            assert ready.json()["detail"] == "models not loaded: parser: gone"
            metrics = client.get("/metrics")
            assert metrics.status_code == 200
            assert "# TYPE fragrance_llm_model_loaded gauge" in metrics.text
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
def test_a_production_llm_worker_whose_models_cannot_load_is_alive_but_not_ready(
    tmp_path: Path, redis_url: str
) -> None:
    # The production profile names 7B models under /var/lib/fragrance-ai/models, which this
    # machine does not have: what a GPU host without its models, or on the CPU build, looks like.
    port = free_port()
    environment = {
        **os.environ,
        "APP_ENV": "production",
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fragrance-ai.sqlite3'}",
        "REDIS_URL": redis_url,
        "WORKER_METRICS_PORT": str(port),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "fragrance_ai.cli", "worker", "llm"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "worker.log").open("wb"),
        start_new_session=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 120
            while True:
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the worker's /health never answered 200"
                time.sleep(0.2)
            # The models load in the background, from the worker's start (the paraphrase
            # matcher first): not ready while they load, and then not ready for good.
            while True:
                ready = client.get("/ready")
                assert ready.status_code == 503
                detail = ready.json()["detail"]
                if "still loading" not in detail:
                    break
                assert time.monotonic() < deadline, detail
                time.sleep(0.2)
            for role in ("parser", "validator", "creative_hints"):
                assert f"{role}: '/var/lib/fragrance-ai/models/" in detail, detail
            metrics = client.get("/metrics").text
            for role in ("parser", "validator", "creative_hints"):
                assert f'fragrance_llm_model_loaded{{role="{role}"}} 0.0' in metrics
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=60)

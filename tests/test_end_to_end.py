"""The real processes: `fragrance-ai migrate`, `serve` and both workers, on PostgreSQL and
Redis, driven over HTTP like a user would."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port, wait_for_job, wait_until_answering

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "fragrance_ai.cli", *args]


@pytest.fixture
def stack_environment(tmp_path: Path, postgres_url: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "APP_ENV": "staging",
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "DATA_DIR": str(tmp_path),
        "API_PORT": str(free_port()),
        "LLM_METRICS_PORT": str(free_port()),
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture
def stack(tmp_path: Path, stack_environment: dict[str, str]) -> Iterator[httpx.Client]:
    environment = stack_environment
    port = environment["API_PORT"]
    subprocess.run(_command("migrate"), env=environment, check=True, timeout=120)
    # Staging requires an API key: made the way an operator makes one.
    key = subprocess.run(
        _command("keys", "create", "--name", "e2e", "--scope", "admin"),
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in ("api", "llm", "rl")}
    # Each in a process group of its own, killed whole if it does not stop: a worker's RQ
    # scheduler is a child process.
    processes = {
        "api": subprocess.Popen(
            _command("serve"),
            env=environment,
            stdout=logs["api"],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
        "llm": subprocess.Popen(
            _command("worker", "llm"),
            env={**environment, "WORKER_METRICS_PORT": environment["LLM_METRICS_PORT"]},
            stdout=logs["llm"],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
        "rl": subprocess.Popen(
            _command("worker", "rl"),
            env=environment,
            stdout=logs["rl"],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
    }
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        timeout=10,
        headers={"Authorization": f"Bearer {key}"},
    )
    try:
        wait_until_answering(client, processes["api"], "/ready")
        yield client
        # SIGTERM is a warm shutdown: every process exits cleanly, on its own.
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for name, process in processes.items():
            code = process.wait(timeout=60)
            log = (tmp_path / f"{name}.log").read_text()
            assert code == 0, (name, code, log)
        assert "Application shutdown complete" in (tmp_path / "api.log").read_text()
        for worker in ("llm", "rl"):
            assert processes[worker].returncode == 0
            assert "warm shut down requested" in (tmp_path / f"{worker}.log").read_text().lower()
    finally:
        client.close()
        for process in processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
        for handle in logs.values():
            handle.close()


def test_a_brief_submitted_over_http_comes_back_as_a_formula(
    stack: httpx.Client, stack_environment: dict[str, str]
) -> None:
    response = stack.post(
        "/v1/briefs", json={"text": "fresh citrus cologne for summer with a woody base"}
    )
    assert response.status_code == 202, response.text
    job = wait_for_job(stack, response.json()["job_id"], timeout_s=90)
    assert job["status"] == "finished", job
    formula = stack.get(f"/v1/formulas/{job['result']['formula_ids'][0]}").json()
    assert abs(sum(line["percent"] for line in formula["lines"]) - 100) <= 0.01
    assert formula["compliance"]["compliant"] is True
    assert formula["cost_per_kg_eur"] > 0
    for component in (
        ["api"],
        ["worker", "llm"],
        ["worker", "rl"],
    ):
        checked = subprocess.run(
            _command("healthcheck", *component),
            env=stack_environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.startswith("healthy: ")
    worker_metrics = httpx.get(f"http://127.0.0.1:{stack_environment['LLM_METRICS_PORT']}").text
    assert 'fragrance_job_step_duration_seconds_count{outcome="ok",step="parse_brief"} 1.0' in (
        worker_metrics
    )
    metrics = stack.get("/metrics").text
    assert 'fragrance_http_requests_total{method="POST",route="/v1/briefs",status="202"}' in metrics

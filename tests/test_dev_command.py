"""`fragrance-ai dev`: the API and both workers from one command, on the embedded default
(SQLite, in-process queue) or, with REDIS_URL set, with the workers as child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port, wait_for_job, wait_until_answering


def run_dev_and_design_a_formula(
    tmp_path: Path, *, stop: str = "ctrl-c", **environment: str
) -> str:
    """Starts `fragrance-ai dev`, has a brief designed, stops it with Ctrl-C (the process
    group gets SIGINT) or as a service manager does (`stop="sigterm"`: SIGTERM to the dev
    process alone); asserts it exits 0 and returns its log."""
    port = free_port()
    log_path = tmp_path / "dev.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "fragrance_ai.cli", "dev", "--port", str(port)],
            env={**os.environ, "DATA_DIR": str(tmp_path), **environment},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, like a terminal's job
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                wait_until_answering(client, process, "/ready")
                accepted = client.post("/v1/briefs", json={"text": "a light floral EDT"})
                assert accepted.status_code == 202
                # Under load the LLM worker takes a while to load its model.
                job = wait_for_job(client, accepted.json()["job_id"], timeout_s=180)
                assert job["status"] == "finished", job
        finally:
            if stop == "sigterm":
                process.send_signal(signal.SIGTERM)
            else:
                # Ctrl-C in a terminal signals the whole foreground process group.
                os.killpg(process.pid, signal.SIGINT)
            try:
                returncode = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=60)
                raise
    assert returncode == 0, log_path.read_text()
    return log_path.read_text()


def test_dev_serves_briefs_on_the_embedded_default(tmp_path: Path) -> None:
    output = run_dev_and_design_a_formula(tmp_path)
    # The README's promise: the first line says which database and queue, before any
    # library's chatter.
    first_line = output.splitlines()[0]
    assert "queue: in-process worker threads" in first_line, output[:2000]
    assert f"database: sqlite:///{tmp_path.resolve()}/fragrance-ai.sqlite3" in first_line
    assert "Traceback" not in output


@pytest.mark.integration
def test_dev_with_redis_runs_both_workers_and_stops_them_warmly(
    tmp_path: Path, redis_url: str
) -> None:
    output = run_dev_and_design_a_formula(tmp_path, REDIS_URL=redis_url)
    assert f"queue: RQ on Redis at {redis_url}" in output
    for queue in ("llm_inference", "rl_training"):
        assert f"listening on {queue}" in output
    # One Ctrl-C: each worker gets exactly one SIGTERM, a warm shutdown, never a second.
    assert output.lower().count("warm shut down requested") == 2
    assert "received twice" not in output
    assert "Traceback" not in output


@pytest.mark.integration
def test_dev_stopped_by_sigterm_stops_its_workers_warmly_and_exits_0(
    tmp_path: Path, redis_url: str
) -> None:
    output = run_dev_and_design_a_formula(tmp_path, stop="sigterm", REDIS_URL=redis_url)
    assert "stopped by SIGTERM" in output
    # The workers are in sessions of their own: only dev's warm stop reaches them.
    assert output.lower().count("warm shut down requested") == 2
    assert "Traceback" not in output

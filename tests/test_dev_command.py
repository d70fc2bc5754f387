"""`fragrance-ai dev`: everything in one process on a bare machine (SQLite, in-process queue)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers import free_port, wait_for_job, wait_until_answering


def test_dev_serves_briefs_on_the_embedded_default(tmp_path: Path) -> None:
    port = free_port()
    environment = {**os.environ, "DATA_DIR": str(tmp_path)}
    log_path = tmp_path / "dev.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "fragrance_ai.cli", "dev", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                wait_until_answering(client, process, "/health")
                assert client.get("/ready").status_code == 200
                accepted = client.post("/v1/briefs", json={"text": "a light floral EDT"})
                assert accepted.status_code == 202
                job = wait_for_job(client, accepted.json()["job_id"])
                assert job["status"] == "finished", job
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
    output = log_path.read_text()
    assert "queue: in-process worker threads" in output
    assert f"database: sqlite:///{tmp_path.resolve()}/fragrance-ai.sqlite3" in output

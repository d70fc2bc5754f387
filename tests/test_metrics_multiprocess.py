"""With several uvicorn worker processes, /metrics sums every process's samples."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers import free_port, wait_until_answering

REQUESTS = 60


def test_metrics_are_summed_over_uvicorn_workers(tmp_path: Path) -> None:
    port = free_port()
    environment = {**os.environ, "DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "fragrance_ai.cli"]
    subprocess.run(
        [*command, "migrate"], env=environment, check=True, capture_output=True, timeout=120
    )
    server = subprocess.Popen(
        [*command, "serve", "--workers", "2", "--port", str(port)], env=environment
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as client:
            wait_until_answering(client, server, "/health")
        for _ in range(REQUESTS):
            # A new connection each time, so the kernel spreads them over both processes.
            with httpx.Client(base_url=base, headers={"connection": "close"}) as client:
                assert client.get("/health").status_code == 200
        with httpx.Client(base_url=base) as client:
            text = client.get("/metrics").text
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait(timeout=30)
    # SIGTERM stops the uvicorn workers, then the parent, which exits 0.
    assert server.returncode == 0
    counts = re.findall(
        r'fragrance_http_requests_total\{method="GET",route="/health",status="200"\} (\S+)', text
    )
    # The probe in wait_until_answering adds at least one request of its own.
    assert counts, text
    assert float(counts[0]) >= REQUESTS + 1
    assert len(list((tmp_path / "prometheus-multiproc").glob("counter_*.db"))) >= 2

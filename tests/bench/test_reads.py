"""bench/reads.py drives wrk against the real app and reports every endpoint."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from bench.reads import ENDPOINTS


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_the_reads_bench_measures_every_endpoint_against_health() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bench.reads", "--seconds", "2", "--databases", "sqlite"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    answered = 0
    for endpoint in ENDPOINTS:
        # Requests/s, the ratio to /health ("-" when /health got none in time), p50, p99,
        # and no answer other than 2xx or 3xx.
        line = re.search(
            rf"^{re.escape(endpoint)}\s+(\d+)\s+([\d.]+|-)\s+([\d.]+)\s+([\d.]+)\s+0$",
            finished.stdout,
            re.M,
        )
        assert line is not None, (endpoint, finished.stdout)
        answered += int(line.group(1))
    assert answered > 0, finished.stdout
    assert "command: wrk -t2 -c32 -d2s --latency http://127.0.0.1:" in finished.stdout

"""bench/reads.py drives wrk against the real app and a bare app serving the same bytes, and
reports every endpoint with its ratio to the bare app."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from bench.reads import ENDPOINTS, FORMULA, SUMMARY


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_the_reads_bench_measures_every_endpoint_against_the_bare_app() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bench.reads", "--seconds", "2", "--databases", "sqlite"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    answered = 0
    for endpoint in ENDPOINTS:
        # The bare app's requests/s, p99 and CPU per request, the real app's requests/s,
        # p50, p99 and CPU per request, the ratio ("-" when the bare app got none in time),
        # and no answer other than 2xx or 3xx.
        line = re.search(
            rf"^{re.escape(endpoint)}\s+SQLite\s+(\d+)\s+[\d.]+\s+\d+\s+(\d+)\s+[\d.]+"
            r"\s+[\d.]+\s+\d+\s+([\d.]+|-)\s+0$",
            finished.stdout,
            re.M,
        )
        assert line is not None, (endpoint, finished.stdout)
        answered += int(line.group(1)) + int(line.group(2))
    assert answered > 0, finished.stdout
    for endpoint in (FORMULA, SUMMARY):
        assert re.search(
            rf"^goal {re.escape(endpoint)} on SQLite .*: (met|NOT met)$", finished.stdout, re.M
        ), finished.stdout
    assert "loop uvloop" in finished.stdout or "loop asyncio" in finished.stdout
    assert "command: wrk -t2 -c32 -d2s --latency http://127.0.0.1:" in finished.stdout

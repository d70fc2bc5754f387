"""Requests/s and p99 latency of GET /v1/formulas/{id}, next to a bare FastAPI hello-world
endpoint measured in the same run on the same machine, each under one uvicorn worker.

    .venv/bin/python -m bench.api [--seconds 10] [--connections 32] [--database-url URL]

Without --database-url the formula lives in SQLite (the embedded default); with a
PostgreSQL URL the numbers include a real database round trip over TCP.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.http_load import LoadResult, run_load
from tests.helpers import free_port, wait_for_job, wait_until_answering


@contextmanager
def uvicorn_server(target: str, environment: dict[str, str], *, factory: bool) -> Iterator[int]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", target, "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    if factory:
        command.append("--factory")
    process = subprocess.Popen(command, env=environment)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            wait_until_answering(client, process, "/openapi.json")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def seed_formula(port: int) -> str:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        accepted = client.post(
            "/v1/briefs", json={"text": "fresh citrus cologne for summer with a woody base"}
        ).json()
        job = wait_for_job(client, accepted["job_id"])
        formula_id: str = job["result"]["formula_ids"][0]
        return formula_id


def measure(port: int, path: str, args: argparse.Namespace) -> LoadResult:
    run_load("127.0.0.1", port, path, connections=args.connections, seconds=1)  # warm-up
    return run_load("127.0.0.1", port, path, connections=args.connections, seconds=args.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="fragrance-bench-"))
    environment = {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    environment.pop("REDIS_URL", None)
    if args.database_url:
        environment["DATABASE_URL"] = args.database_url
    subprocess.run(
        [sys.executable, "-m", "fragrance_ai.cli", "migrate"],
        env=environment,
        check=True,
        capture_output=True,
    )

    with uvicorn_server("bench.hello_app:app", environment, factory=False) as port:
        baseline = measure(port, "/hello", args)
    with uvicorn_server("fragrance_ai.api.app:create_app", environment, factory=True) as port:
        formula_id = seed_formula(port)
        time.sleep(0.5)
        formula = measure(port, f"/v1/formulas/{formula_id}", args)

    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.connections} keep-alive connections, {args.seconds:g} s each, 1 uvicorn worker")
    print(f"{'endpoint':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, result in (
        ("bare FastAPI GET /hello", baseline),
        (f"GET /v1/formulas/{{id}} ({database})", formula),
    ):
        print(
            f"{name:<34}{result.requests_per_s:>10.0f}{result.median_ms:>10.2f}"
            f"{result.percentile_ms(0.99):>10.2f}{result.errors:>8}"
        )
    print(f"throughput ratio formula/hello: {formula.requests_per_s / baseline.requests_per_s:.2f}")


if __name__ == "__main__":
    main()

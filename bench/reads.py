"""Requests/s and p99 latency of the API's hot reads next to the same app's /health, measured
by wrk against one uvicorn worker of the real app, on SQLite and on PostgreSQL, in one run.

    .venv/bin/python -m bench.reads [--seconds 10] [--connections 32] [--threads 2]
        [--rounds 1] [--databases sqlite,postgresql] [--postgres-admin-url URL]

The same server process answers every endpoint of a database, one after the other, after a
one-second warm-up of each (the first read of a formula renders it); with --rounds N the
endpoints take N turns and each one's best round is shown (on a host shared with other
work). PostgreSQL runs against a throwaway database created on the server at
--postgres-admin-url and dropped afterwards.
Needs Debian's `wrk` (apt install wrk).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.stack import POSTGRES_ADMIN_URL, throwaway_postgres
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.db.repositories import save_designed_formula
from fragrance_ai.domain.designer import RuleBasedDesigner
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.runtime import build_runtime
from fragrance_ai.settings import Settings
from tests.helpers import free_port, wait_until_answering

BRIEFS = (
    "fresh citrus cologne for summer with a woody base",
    "a warm amber vanilla evening perfume",
    "green tea and fig, light and airy",
)
FORMULA = "/v1/formulas/{id}"
# The catalogue twice: 50 full records are 500 KB, which loopback and wrk pay for whatever
# the server does; 50 summaries are 11 KB, which shows the route itself.
ENDPOINTS = (
    "/health",
    FORMULA,
    "/v1/ingredients?limit=50",
    "/v1/ingredients?limit=50&view=summary",
)
# wrk's units in its latency distribution.
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkResult:
    command: list[str]
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    bad_statuses: int
    socket_errors: str | None


def run_wrk(url: str, *, seconds: float, connections: int, threads: int) -> WrkResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if finished.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {finished.returncode}: {finished.stderr}")
    output = finished.stdout
    percentiles = {
        int(share): float(value) * _UNITS_MS[unit]
        for share, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    }
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if rate is None or 99 not in percentiles:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)$", output, re.M)
    return WrkResult(
        command=command,
        requests_per_s=float(rate.group(1)),
        p50_ms=percentiles[50],
        p99_ms=percentiles[99],
        bad_statuses=int(bad.group(1)) if bad else 0,
        socket_errors=errors.group(1) if errors else None,
    )


def seed_formulas(settings: Settings) -> list[str]:
    """Migrates the database and stores a few formulas designed from briefs by rule."""
    runtime = build_runtime(settings)
    try:
        upgrade_to_head(runtime.engine)
        parser = DeterministicBriefParser(runtime.catalogue)
        designer = RuleBasedDesigner(runtime.catalogue)
        ids: list[str] = []
        with runtime.sessions() as session:
            for brief in BRIEFS:
                for designed in designer.design(parser.parse(brief), count=2):
                    row = save_designed_formula(
                        session, designed, designer="rule_based", brief_id=None, job_id=None
                    )
                    ids.append(str(row.id))
            session.commit()
        return ids
    finally:
        runtime.close()


@contextmanager
def api_server(environment: dict[str, str]) -> Iterator[str]:
    """One uvicorn worker of the real app; its exit code is checked when it stops."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "fragrance_ai.api.app:create_app",
        "--factory",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    process = subprocess.Popen(command, env=environment)
    base_url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base_url) as client:
            wait_until_answering(client, process, "/health")
        yield base_url
    finally:
        process.terminate()
        code = process.wait(timeout=60)
        # uvicorn shuts down cleanly, then re-raises the signal it caught.
        if code not in (0, -signal.SIGTERM):
            raise RuntimeError(f"the API exited {code} on SIGTERM")


def measure_database(label: str, database_url: str | None, args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="fragrance-bench-"))
    try:
        settings = Settings(_env_file=None, data_dir=data_dir, database_url=database_url)
        formula_id = seed_formulas(settings)[0]
        environment = {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
        environment.pop("REDIS_URL", None)
        environment.pop("DATABASE_URL", None)
        if database_url:
            environment["DATABASE_URL"] = database_url
        rounds: dict[str, list[WrkResult]] = {endpoint: [] for endpoint in ENDPOINTS}
        with api_server(environment) as base_url:
            urls = {e: base_url + e.replace("{id}", formula_id) for e in ENDPOINTS}
            for url in urls.values():
                run_wrk(url, seconds=1, connections=args.connections, threads=args.threads)
            # Rounds in turn, so that a burst of load elsewhere on the host hits every
            # endpoint alike; each endpoint's best round is its figure.
            for _ in range(args.rounds):
                for endpoint, url in urls.items():
                    rounds[endpoint].append(
                        run_wrk(
                            url,
                            seconds=args.seconds,
                            connections=args.connections,
                            threads=args.threads,
                        )
                    )
        results = {e: max(r, key=lambda result: result.requests_per_s) for e, r in rounds.items()}
        report(label, results)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def report(label: str, results: dict[str, WrkResult]) -> None:
    health = results["/health"].requests_per_s
    print(f"\n{label}: one uvicorn worker; load average now {_load()}")
    print(f"{'endpoint':<40}{'req/s':>9}{'x /health':>11}{'p50 ms':>9}{'p99 ms':>9}{'bad':>6}")
    for endpoint, result in results.items():
        # wrk reports no request at all when none finished in time (a host under load).
        ratio = f"{result.requests_per_s / health:.2f}" if health else "-"
        print(
            f"{endpoint:<40}{result.requests_per_s:>9.0f}{ratio:>11}"
            f"{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}{result.bad_statuses:>6}"
        )
        if result.socket_errors:
            print(f"    socket errors: {result.socket_errors}")
    print("command: " + " ".join(results[FORMULA].command))


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="each endpoint's best is shown")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-admin-url", default=POSTGRES_ADMIN_URL)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt install wrk)")
    print(f"load average before: {_load()} on {os.cpu_count()} CPUs")
    for database in args.databases.split(","):
        if database == "sqlite":
            measure_database("SQLite", None, args)
        elif database == "postgresql":
            with throwaway_postgres(args.postgres_admin_url) as url:
                measure_database("PostgreSQL", url, args)
        else:
            sys.exit(f"unknown database {database!r}: sqlite or postgresql")


if __name__ == "__main__":
    main()

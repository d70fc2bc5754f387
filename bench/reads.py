"""Requests/s and p99 latency of the API's hot reads, measured by wrk against one uvicorn
worker of the real app next to a bare FastAPI app on the same server stack that answers the
same bytes from memory, on SQLite and on PostgreSQL, in one run.

    .venv/bin/python -m bench.reads [--seconds 10] [--connections 32] [--threads 2]
        [--rounds 1] [--databases sqlite,postgresql] [--postgres-admin-url URL]

For each database the real app (`fragrance_ai.api.app:create_app`) starts on a database
holding a few formulas, and each endpoint's answer is fetched from it once. Then the bare
app (`bare_app` below: FastAPI, one route per endpoint, no middleware, no database) starts
with the same uvicorn command line, so the same event loop and HTTP implementation (uvloop
and httptools where installed, as `fragrance-ai serve` picks them), and answers those bytes
with the same content type. "x bare" is the share of what the framework and the server can
do that the real app keeps; the goal (issue 23) is 0.7 for a formula and for the catalogue
summary, with a formula's p99 at most 10 ms. "cpu us" is the server process's CPU time per
request answered, which a host shared with other work moves far less than requests/s and
p99. The figures before and after issue 23 are in README.md's Benchmarks.

Every endpoint gets a one-second warm-up on both servers (the first read of a formula
renders it); with --rounds N the endpoints take N turns, bare app then real app each time,
and each one's best round is shown (on a host shared with other work). PostgreSQL runs
against a throwaway database created on the server at --postgres-admin-url and dropped
afterwards. Needs Debian's `wrk` (apt install wrk).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
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
from importlib.metadata import version
from pathlib import Path

import httpx
from fastapi import FastAPI, Response

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
HEALTH = "/health"
FORMULA = "/v1/formulas/{id}"
# The catalogue twice: 50 full records are 500 KB, which loopback and wrk pay for whatever
# the server does; 50 summaries are 11 KB, which shows the route itself.
CATALOGUE = "/v1/ingredients?limit=50"
SUMMARY = "/v1/ingredients?limit=50&view=summary"
ENDPOINTS = (HEALTH, FORMULA, CATALOGUE, SUMMARY)
# Issue 23: what the real app keeps of the bare app's requests/s, and a formula's p99.
GOAL_RATIO = 0.7
GOAL_FORMULA_P99_MS = 10.0
REAL_APP = "fragrance_ai.api.app:create_app"
BARE_APP = "bench.reads:bare_app"
# The directory `bare_app` reads its answers from.
BARE_ANSWERS_ENV = "BENCH_BARE_ANSWERS"
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
    # The server process's CPU time per request answered during the run: on a host shared
    # with other work it moves far less than requests/s and latency do.
    cpu_us_per_request: float | None = None


@dataclass(frozen=True)
class Answer:
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Row:
    endpoint: str
    database: str
    bare: WrkResult
    app: WrkResult

    @property
    def ratio(self) -> float | None:
        # wrk reports no request at all when none finished in time (a host under load).
        if not self.bare.requests_per_s:
            return None
        return self.app.requests_per_s / self.bare.requests_per_s


def run_wrk(
    url: str, *, seconds: float, connections: int, threads: int, server_pid: int | None = None
) -> WrkResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    cpu_before = _cpu_s(server_pid)
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    cpu_after = _cpu_s(server_pid)
    if finished.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {finished.returncode}: {finished.stderr}")
    output = finished.stdout
    percentiles = {
        int(share): float(value) * _UNITS_MS[unit]
        for share, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    }
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    answered = re.search(r"^\s+(\d+) requests in ", output, re.M)
    if rate is None or answered is None or 99 not in percentiles:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    requests = int(answered.group(1))
    cpu_us = None
    if cpu_before is not None and cpu_after is not None and requests:
        cpu_us = (cpu_after - cpu_before) / requests * 1e6
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)$", output, re.M)
    return WrkResult(
        command=command,
        requests_per_s=float(rate.group(1)),
        p50_ms=percentiles[50],
        p99_ms=percentiles[99],
        bad_statuses=int(bad.group(1)) if bad else 0,
        socket_errors=errors.group(1) if errors else None,
        cpu_us_per_request=cpu_us,
    )


def _cpu_s(pid: int | None) -> float | None:
    """User and system CPU seconds of a process so far (Linux's /proc), or None."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields 14 and 15, counted after the command name, which may hold spaces.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def server_stack() -> str:
    """What uvicorn's `auto` picks here, as it does for `fragrance-ai serve`."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return (
        f"uvicorn {version('uvicorn')}, one worker, loop {loop} {_version_of(loop)}, "
        f"http {http} {_version_of(http)}"
    )


def _version_of(package: str) -> str:
    return "(stdlib)" if package == "asyncio" else version(package)


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int


@contextmanager
def uvicorn_server(app_factory: str, environment: dict[str, str]) -> Iterator[Server]:
    """One uvicorn worker; its exit code is checked when it stops. The real app and the bare
    one get the same command line but for the factory."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app_factory,
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
            wait_until_answering(client, process, HEALTH)
        yield Server(base_url, process.pid)
    finally:
        process.terminate()
        code = process.wait(timeout=60)
        # uvicorn shuts down cleanly, then re-raises the signal it caught.
        if code not in (0, -signal.SIGTERM):
            raise RuntimeError(f"{app_factory} exited {code} on SIGTERM")


def fetch_answers(base_url: str, paths: dict[str, str]) -> dict[str, Answer]:
    """Each endpoint's body and content type, as the real app answers it."""
    answers: dict[str, Answer] = {}
    with httpx.Client(base_url=base_url) as client:
        for endpoint, path in paths.items():
            response = client.get(path)
            response.raise_for_status()
            answers[endpoint] = Answer(response.content, response.headers["content-type"])
    return answers


def write_answers(directory: Path, answers: dict[str, Answer]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, str] = {}
    for number, (endpoint, answer) in enumerate(answers.items()):
        (directory / f"{number}.body").write_bytes(answer.body)
        manifest[endpoint] = answer.content_type
    (directory / "manifest.json").write_text(json.dumps(manifest))


def read_answers(directory: Path) -> dict[str, Answer]:
    manifest: dict[str, str] = json.loads((directory / "manifest.json").read_text())
    return {
        endpoint: Answer((directory / f"{number}.body").read_bytes(), content_type)
        for number, (endpoint, content_type) in enumerate(manifest.items())
    }


def bare_app() -> FastAPI:
    """uvicorn's factory for the bare app: what FastAPI on this server stack can do, the same
    routes answering the real app's bytes, precomputed, with no middleware and no database."""
    answers = read_answers(Path(os.environ[BARE_ANSWERS_ENV]))
    health, formula = answers[HEALTH], answers[FORMULA]
    catalogue, summary = answers[CATALOGUE], answers[SUMMARY]
    app = FastAPI()

    @app.get("/health")
    async def read_health() -> Response:
        return Response(health.body, media_type=health.content_type)

    @app.get("/v1/formulas/{formula_id}")
    async def read_formula(formula_id: str) -> Response:
        return Response(formula.body, media_type=formula.content_type)

    @app.get("/v1/ingredients")
    async def read_ingredients(view: str = "full") -> Response:
        found = summary if view == "summary" else catalogue
        return Response(found.body, media_type=found.content_type)

    return app


def measure_database(label: str, database_url: str | None, args: argparse.Namespace) -> list[Row]:
    data_dir = Path(tempfile.mkdtemp(prefix="fragrance-bench-"))
    try:
        settings = Settings(_env_file=None, data_dir=data_dir, database_url=database_url)
        formula_id = seed_formulas(settings)[0]
        environment = {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
        environment.pop("REDIS_URL", None)
        environment.pop("DATABASE_URL", None)
        if database_url:
            environment["DATABASE_URL"] = database_url
        paths = {e: e.replace("{id}", formula_id) for e in ENDPOINTS}
        rounds: dict[tuple[str, str], list[WrkResult]] = {}
        with uvicorn_server(REAL_APP, environment) as app:
            write_answers(data_dir / "bare", fetch_answers(app.base_url, paths))
            bare_environment = {**environment, BARE_ANSWERS_ENV: str(data_dir / "bare")}
            with uvicorn_server(BARE_APP, bare_environment) as bare:
                servers = {"bare": bare, "app": app}
                targets = [(endpoint, name) for endpoint in paths for name in servers]
                for endpoint, name in targets:
                    run_wrk(
                        servers[name].base_url + paths[endpoint],
                        seconds=1,
                        connections=args.connections,
                        threads=args.threads,
                    )
                # Rounds in turn, so that a burst of load elsewhere on the host hits every
                # endpoint and both apps alike; each one's best round is its figure.
                for _ in range(args.rounds):
                    for endpoint, name in targets:
                        rounds.setdefault((endpoint, name), []).append(
                            run_wrk(
                                servers[name].base_url + paths[endpoint],
                                seconds=args.seconds,
                                connections=args.connections,
                                threads=args.threads,
                                server_pid=servers[name].pid,
                            )
                        )
        best = {key: max(r, key=lambda result: result.requests_per_s) for key, r in rounds.items()}
        return [
            Row(endpoint, label, bare=best[endpoint, "bare"], app=best[endpoint, "app"])
            for endpoint in ENDPOINTS
        ]
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def report(rows: list[Row]) -> None:
    print(f"\n{server_stack()}; load average now {_load()}")
    print(
        f"{'endpoint':<38}{'database':<11}{'bare req/s':>11}{'p99 ms':>8}{'cpu us':>8}"
        f"{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'cpu us':>8}{'x bare':>8}{'bad':>5}"
    )
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
        print(
            f"{row.endpoint:<38}{row.database:<11}{row.bare.requests_per_s:>11.0f}"
            f"{row.bare.p99_ms:>8.2f}{_cpu(row.bare):>8}{row.app.requests_per_s:>8.0f}"
            f"{row.app.p50_ms:>8.2f}{row.app.p99_ms:>8.2f}{_cpu(row.app):>8}{ratio:>8}"
            f"{row.app.bad_statuses + row.bare.bad_statuses:>5}"
        )
        for result in (row.bare, row.app):
            if result.socket_errors:
                print(f"    socket errors: {result.socket_errors} ({result.command[-1]})")
    for row in rows:
        if row.endpoint in (FORMULA, SUMMARY):
            print(goal_line(row))
    formula = next(row for row in rows if row.endpoint == FORMULA)
    print("command: " + " ".join(formula.app.command))


def _cpu(result: WrkResult) -> str:
    return "-" if result.cpu_us_per_request is None else f"{result.cpu_us_per_request:.0f}"


def goal_line(row: Row) -> str:
    met = row.ratio is not None and row.ratio >= GOAL_RATIO
    wanted = f">= {GOAL_RATIO} x bare"
    if row.endpoint == FORMULA:
        met = met and row.app.p99_ms <= GOAL_FORMULA_P99_MS
        wanted += f", p99 <= {GOAL_FORMULA_P99_MS:g} ms"
    ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
    return (
        f"goal {row.endpoint} on {row.database} ({wanted}): {ratio} x bare, "
        f"p99 {row.app.p99_ms:.2f} ms: {'met' if met else 'NOT met'}"
    )


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
    rows: list[Row] = []
    for database in args.databases.split(","):
        if database == "sqlite":
            rows += measure_database("SQLite", None, args)
        elif database == "postgresql":
            with throwaway_postgres(args.postgres_admin_url) as url:
                rows += measure_database("PostgreSQL", url, args)
        else:
            sys.exit(f"unknown database {database!r}: sqlite or postgresql")
    report(rows)


if __name__ == "__main__":
    main()

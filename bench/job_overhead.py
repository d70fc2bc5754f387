"""What our job machinery costs per job, next to bare RQ, on the same Redis.

Bare: N no-op functions enqueued with `rq.Queue.enqueue`, drained by a burst `SimpleWorker`.
Ours: N job rows, each enqueued with `RedisJobQueue.enqueue` (our job id, timeouts, retry
policy) as a step whose body does nothing inside `running_step`
(fragrance_ai.jobs.lifecycle, which claims the row, counts the attempt and records the step's
duration) and finishes it, drained the same way. Enqueue and drain are timed apart; rounds
alternate, medians are reported.

    .venv/bin/python -m bench.job_overhead --redis-url redis://127.0.0.1:6379/15 \\
        [--jobs 500] [--rounds 3] [--database-url URL] [--profile]

It FLUSHES the Redis database it is given. Without --database-url it creates a throwaway
PostgreSQL database (--postgres-admin-url) and drops it afterwards. --profile runs one more
round of ours under cProfile and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import logging
import pstats
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from rq import Queue, SimpleWorker
from rq.job import Job as RQJob
from rq.registry import FailedJobRegistry
from sqlalchemy import insert, select

from bench.stack import POSTGRES_ADMIN_URL, flush_redis, throwaway_postgres
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.db.models import Job, JobKind, JobStatus
from fragrance_ai.jobs.lifecycle import finish, running_step
from fragrance_ai.queue import QueueName, RedisJobQueue
from fragrance_ai.runtime import Runtime, build_runtime, current_runtime, install_runtime
from fragrance_ai.settings import Settings

BARE_QUEUE = "bench_bare_noop"


def bare_noop(job_id: str) -> None:
    """The bare RQ job: nothing at all."""


def noop_step(job_id: str) -> None:
    """Our job step with an empty body: what every step pays before and after its work."""
    runtime = current_runtime()
    with runtime.sessions() as session, running_step(session, job_id, "bench_noop", 0.0) as job:
        if job is None:
            return
        finish(job, JobStatus.FINISHED)


def _importable() -> ModuleType:
    # Run as `python -m`, this module is __main__, whose functions RQ refuses to queue: the
    # jobs name them in the module's importable copy.
    return importlib.import_module("bench.job_overhead")


@dataclass(frozen=True)
class Timing:
    enqueue_s: float
    drain_s: float
    jobs: int

    @property
    def per_job_ms(self) -> float:
        return (self.enqueue_s + self.drain_s) / self.jobs * 1000

    @property
    def drain_per_job_ms(self) -> float:
        return self.drain_s / self.jobs * 1000

    @property
    def enqueue_per_job_ms(self) -> float:
        return self.enqueue_s / self.jobs * 1000


@dataclass(frozen=True)
class OverheadReport:
    jobs: int
    bare: list[Timing]
    ours: list[Timing]

    @staticmethod
    def _median(timings: list[Timing], figure: Callable[[Timing], float]) -> float:
        return statistics.median(figure(timing) for timing in timings)

    def lines(self) -> list[str]:
        rows = []
        for name, timings in (("bare RQ no-op", self.bare), ("ours (enqueue + _step)", self.ours)):
            enqueue = self._median(timings, lambda t: t.enqueue_per_job_ms)
            drain = self._median(timings, lambda t: t.drain_per_job_ms)
            total = self._median(timings, lambda t: t.per_job_ms)
            rows.append(
                f"{name:<24}{enqueue:>11.3f}{drain:>11.3f}{total:>11.3f}{1000 / total:>10.0f}"
            )
        ratio = self.ratio
        verdict = "within" if ratio <= 1.25 else "OVER"
        return [
            f"per-job cost, {self.jobs} jobs a round, median of {len(self.ours)} rounds",
            f"{'':<24}{'enqueue ms':>11}{'drain ms':>11}{'total ms':>11}{'jobs/s':>10}",
            *rows,
            f"ratio ours/bare per job: {ratio:.2f} ({verdict} the 1.25 goal);"
            f" drain only: {self.drain_ratio:.2f}",
        ]

    @property
    def ratio(self) -> float:
        ours = self._median(self.ours, lambda t: t.per_job_ms)
        return ours / self._median(self.bare, lambda t: t.per_job_ms)

    @property
    def drain_ratio(self) -> float:
        ours = self._median(self.ours, lambda t: t.drain_per_job_ms)
        return ours / self._median(self.bare, lambda t: t.drain_per_job_ms)


def _drain(queue: Queue) -> float:
    worker = SimpleWorker([queue], connection=queue.connection)
    started = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    elapsed = time.perf_counter() - started
    if queue.count:
        raise RuntimeError(f"{queue.name}: {queue.count} jobs left after a burst")
    return elapsed


def _bare_round(queue: Queue, jobs: int) -> Timing:
    started = time.perf_counter()
    for _ in range(jobs):
        queue.enqueue(_importable().bare_noop, str(uuid.uuid4()))
    enqueued = time.perf_counter() - started
    return Timing(enqueued, _drain(queue), jobs)


def _our_round(runtime: Runtime, jobs: int) -> Timing:
    assert isinstance(runtime.queue, RedisJobQueue)
    ids = [uuid.uuid4() for _ in range(jobs)]
    # The rows exist before the work is queued, as the API leaves them; not timed.
    with runtime.sessions() as session:
        session.execute(
            insert(Job),
            [{"id": job_id, "kind": JobKind.DESIGN_FROM_BRIEF.value} for job_id in ids],
        )
        session.commit()
    started = time.perf_counter()
    for job_id in ids:
        runtime.queue.enqueue(QueueName.LLM_INFERENCE, _importable().noop_step, str(job_id))
    enqueued = time.perf_counter() - started
    queue = Queue(QueueName.LLM_INFERENCE.value, connection=runtime.queue.connection)
    drained = _drain(queue)
    with runtime.sessions() as session:
        statuses = Counter(session.scalars(select(Job.status).where(Job.id.in_(ids))).all())
    if statuses != {JobStatus.FINISHED.value: jobs}:
        failed = FailedJobRegistry(queue=queue)
        reasons = [
            str(job.latest_result().exc_string)[-300:]  # type: ignore[union-attr]
            for job in RQJob.fetch_many(failed.get_job_ids()[:3], connection=queue.connection)
            if job is not None
        ]
        raise RuntimeError(f"job rows not all finished: {dict(statuses)}; {reasons}")
    return Timing(enqueued, drained, jobs)


def measure_overhead(
    runtime: Runtime, *, jobs: int, rounds: int, profile: bool = False
) -> OverheadReport:
    """Needs a migrated database and a Redis database no worker is listening on."""
    install_runtime(runtime)
    assert isinstance(runtime.queue, RedisJobQueue)
    bare_queue = Queue(BARE_QUEUE, connection=runtime.queue.connection)
    # Warm-up: imports, connection pools, RQ's scripts.
    _bare_round(bare_queue, 20)
    _our_round(runtime, 20)
    bare, ours = [], []
    for _ in range(rounds):
        bare.append(_bare_round(bare_queue, jobs))
        ours.append(_our_round(runtime, jobs))
    if profile:
        _print_profile(runtime, jobs)
    return OverheadReport(jobs, bare, ours)


def _print_profile(runtime: Runtime, jobs: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    _our_round(runtime, jobs)
    profiler.disable()
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
        print(f"--- cProfile of one round of ours, by {order}")
        print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url", required=True, help="a Redis database it FLUSHES")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--postgres-admin-url", default=POSTGRES_ADMIN_URL)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    flush_redis(args.redis_url)

    def measure(database_url: str) -> OverheadReport:
        return overhead_on(
            database_url, args.redis_url, jobs=args.jobs, rounds=args.rounds, profile=args.profile
        )

    if args.database_url:
        report = measure(args.database_url)
    else:
        with throwaway_postgres(args.postgres_admin_url) as database_url:
            report = measure(database_url)
    print("\n".join(report.lines()))


def overhead_on(
    database_url: str, redis_url: str, *, jobs: int, rounds: int, profile: bool = False
) -> OverheadReport:
    """Migrates the database (nothing to do when it is up to date), measures, and flushes the
    Redis database afterwards; no worker may be listening on it."""
    with tempfile.TemporaryDirectory(prefix="fragrance-bench-") as data_dir:
        settings = Settings(
            _env_file=None,
            data_dir=Path(data_dir),
            database_url=database_url,
            redis_url=redis_url,
        )
        runtime = build_runtime(settings)
        try:
            upgrade_to_head(runtime.engine)
            return measure_overhead(runtime, jobs=jobs, rounds=rounds, profile=profile)
        finally:
            runtime.close()
            flush_redis(redis_url)


if __name__ == "__main__":
    main()

"""SIGKILL a worker in the middle of its jobs, again and again: every job still ends
`finished` exactly once, with its formulas stored once."""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from fragrance_ai.db.models import Job, JobStatus
from fragrance_ai.runtime import Runtime
from tests.reliability.stack import (
    BRIEFS,
    Processes,
    all_ended,
    assert_each_finished_once,
    command,
    stack_environment,
    submit,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

KILLS = 20
JOBS = 24


def _fresh_claim(
    runtime: Runtime, seen: set[tuple[uuid.UUID, int]]
) -> tuple[uuid.UUID, int] | None:
    """A job a worker has claimed since the last kill (a started row with a new attempt)."""
    with runtime.sessions() as session:
        rows = session.execute(
            select(Job.id, Job.attempts).where(Job.status == JobStatus.STARTED.value)
        ).all()
    for job_id, attempts in rows:
        if (job_id, attempts) not in seen:
            return job_id, attempts
    return None


def test_sigkilled_workers_lose_no_job_and_store_no_formula_twice(
    tmp_path: Path, services_runtime: Runtime, postgres_url: str, redis_url: str
) -> None:
    environment = stack_environment(tmp_path, postgres_url, redis_url)
    worker_command = command("worker", "rl", "--queue", "llm_inference", "--queue", "rl_training")
    processes = Processes(tmp_path)
    started = time.monotonic()
    rng = random.Random(11)
    job_ids = [submit(services_runtime, BRIEFS[i % len(BRIEFS)]) for i in range(JOBS)]
    killed: set[tuple[uuid.UUID, int]] = set()
    try:
        for _ in range(KILLS):
            worker = processes.start(worker_command, environment)
            claim = wait_for(
                lambda current=worker: (  # type: ignore[misc]
                    _fresh_claim(services_runtime, killed) or current.poll() is not None
                ),
                timeout_s=60,
                what="a worker claims a job",
            )
            assert worker.poll() is None, processes.log_of(worker)[-4000:]
            # Somewhere inside the step: at once, or part-way through the search.
            time.sleep(rng.uniform(0, 0.6))
            processes.kill(worker)
            killed.add(claim)
        worker = processes.start(worker_command, environment)
        wait_for(lambda: all_ended(services_runtime, job_ids), timeout_s=180, what="every job ends")
        processes.stop(worker)
    finally:
        processes.close()
    duplicates = assert_each_finished_once(services_runtime, job_ids)
    redelivered = len({job_id for job_id, _ in killed})
    wall_s = time.monotonic() - started
    print(
        f"\nworker kills: trials={KILLS} jobs={JOBS} killed mid-step={redelivered} jobs "
        f"lost=0 duplicates={duplicates} wall={wall_s:.1f}s"
    )
    assert duplicates == 0

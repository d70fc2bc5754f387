"""Redis killed (SIGKILL) with jobs queued and running, and started again empty on the same
port: the workers reconnect, their reconcilers put the lost steps back, and every job
finishes exactly once with its formulas stored once."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.db.models import Job, JobStatus
from fragrance_ai.queue import QueueName
from fragrance_ai.runtime import Runtime, build_runtime, install_runtime
from tests.conftest import make_settings
from tests.helpers import free_port
from tests.reliability.stack import (
    BRIEFS,
    Processes,
    all_ended,
    assert_each_finished_once,
    command,
    private_redis,
    stack_environment,
    submit,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

JOBS = 12


def _counts(runtime: Runtime, job_ids: list[uuid.UUID]) -> dict[str, int]:
    with runtime.sessions() as session:
        found = session.scalars(select(Job.status).where(Job.id.in_(job_ids))).all()
    return {status.value: found.count(status.value) for status in JobStatus}


def test_a_redis_restart_loses_no_job_and_stores_no_formula_twice(
    tmp_path: Path, postgres_url: str
) -> None:
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    with private_redis(port) as restart_redis:
        runtime = build_runtime(
            make_settings(tmp_path, database_url=postgres_url, redis_url=redis_url)
        )
        upgrade_to_head(runtime.engine)
        install_runtime(runtime)
        processes = Processes(tmp_path)
        environment = stack_environment(tmp_path, postgres_url, redis_url)
        started = time.monotonic()
        try:
            job_ids = [submit(runtime, BRIEFS[i % len(BRIEFS)]) for i in range(JOBS)]
            assert runtime.queue.depth()[QueueName.LLM_INFERENCE] == JOBS
            workers = [
                processes.start(command("worker", kind), environment) for kind in ("llm", "rl")
            ]
            # Some work done, some running, most still waiting in Redis.
            before = wait_for(
                lambda: (
                    (
                        (counts := _counts(runtime, job_ids))["finished"] >= 1
                        and counts["started"] >= 1
                        and counts
                    )
                    or any(worker.poll() is not None for worker in workers)
                ),
                timeout_s=60,
                what="the workers are under way",
            )
            for worker in workers:
                assert worker.poll() is None, processes.log_of(worker)[-4000:]

            restart_redis()
            restarted = time.monotonic()

            wait_for(
                lambda: (
                    all_ended(runtime, job_ids)
                    or any(worker.poll() is not None for worker in workers)
                ),
                timeout_s=120,
                what="every job ends",
            )
            recovered_s = time.monotonic() - restarted
            for worker in workers:
                assert worker.poll() is None, processes.log_of(worker)[-4000:]
                processes.stop(worker)
        finally:
            processes.close()
            install_runtime(None)
        try:
            duplicates = assert_each_finished_once(runtime, job_ids)
        finally:
            runtime.close()
    logs = "".join(processes.log_of(worker) for worker in workers)
    # The lost steps came back through the reconciler, not by chance.
    assert re.search(r"reconciler: \{[^}]*'enqueue': \d+", logs), logs[-6000:]
    print(
        f"\nredis restart: jobs={JOBS} at the kill: {before} -> all finished "
        f"{recovered_s:.1f} s after the restart, lost=0 duplicates={duplicates} "
        f"wall={time.monotonic() - started:.1f}s"
    )
    assert duplicates == 0

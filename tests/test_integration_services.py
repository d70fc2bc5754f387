"""The same code on the real servers: migrations on PostgreSQL, jobs through RQ on Redis."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import inspect

from fragrance_ai.db.migrate import current_revision, head_revision, upgrade_to_head
from fragrance_ai.db.models import Brief, Job, JobStatus
from fragrance_ai.db.repositories import read_formula_document
from fragrance_ai.jobs.steps import design_formulas, parse_brief
from fragrance_ai.queue import QueueName, RedisJobQueue
from fragrance_ai.runtime import Runtime, build_runtime, install_runtime
from fragrance_ai.settings import QueueSettings
from tests.conftest import make_settings

pytestmark = pytest.mark.integration


def _submit(runtime: Runtime, text: str) -> uuid.UUID:
    with runtime.sessions() as session:
        brief = Brief(id=uuid.uuid4(), text=text, mode="balanced")
        job = Job(id=uuid.uuid4(), kind="design_from_brief", brief_id=brief.id)
        session.add_all([brief, job])
        session.commit()
        return job.id


def _work_off(runtime: Runtime, name: QueueName) -> None:
    assert isinstance(runtime.queue, RedisJobQueue)
    connection = runtime.queue.connection
    SimpleWorker([Queue(name.value, connection=connection)], connection=connection).work(burst=True)


def test_migrations_reach_head_on_postgresql_and_are_idempotent(
    services_runtime: Runtime,
) -> None:
    assert current_revision(services_runtime.engine) == head_revision()
    upgrade_to_head(services_runtime.engine)
    tables = set(inspect(services_runtime.engine).get_table_names())
    expected = {"briefs", "jobs", "formulas", "formula_lines", "preferences", "training_runs"}
    assert expected | {"policies", "choices", "variation_sets", "reward_models"} <= tables


def test_a_brief_goes_through_both_rq_queues_into_postgresql(services_runtime: Runtime) -> None:
    job_id = _submit(services_runtime, "fresh citrus cologne for summer with a woody base")
    services_runtime.queue.enqueue(QueueName.LLM_INFERENCE, parse_brief, str(job_id))
    assert services_runtime.queue.depth()[QueueName.LLM_INFERENCE] == 1

    _work_off(services_runtime, QueueName.LLM_INFERENCE)
    with services_runtime.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert job.status == JobStatus.STARTED.value
        assert job.stage == "parse_brief"
    # The parser handed the job on to the rl_training queue.
    assert services_runtime.queue.depth()[QueueName.RL_TRAINING] == 1

    _work_off(services_runtime, QueueName.RL_TRAINING)
    with services_runtime.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert job.status == JobStatus.FINISHED.value, job.error
        assert job.result is not None
        formula = read_formula_document(session, uuid.UUID(job.result["formula_ids"][0]))
        assert formula is not None
        assert abs(sum(line["percent"] for line in formula["lines"]) - 100) <= 0.01
        assert formula["compliant"]


def test_a_step_that_keeps_raising_fails_the_job_with_its_reason_after_retries(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=postgres_url,
        redis_url=redis_url,
        queue=QueueSettings(retry_intervals_s=[0]),
    )
    runtime = build_runtime(settings)
    upgrade_to_head(runtime.engine)
    install_runtime(runtime)
    try:
        job_id = _submit(runtime, "citrus")
        # A parsed brief that no longer validates: the designer step raises every time.
        with runtime.sessions() as session:
            job = session.get(Job, job_id)
            assert job is not None
            assert job.brief_id is not None
            brief = session.get(Brief, job.brief_id)
            assert brief is not None
            brief.parsed = {"intensity": "nuclear"}
            session.commit()
        runtime.queue.enqueue(QueueName.RL_TRAINING, design_formulas, str(job_id))
        # A zero interval puts the retry straight back on the queue: one burst runs both.
        _work_off(runtime, QueueName.RL_TRAINING)
        with runtime.sessions() as session:
            job = session.get(Job, job_id)
            assert job is not None
            assert job.status == JobStatus.FAILED.value
            assert job.attempts == 2
            assert job.error is not None
            assert "design_formulas: ValidationError" in job.error
            assert "intensity" in job.error
            # The accepted brief is still there.
            assert session.get(Brief, job.brief_id) is not None
    finally:
        install_runtime(None)
        runtime.close()

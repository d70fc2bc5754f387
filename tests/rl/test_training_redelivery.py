"""A training job delivered again (RQ delivers at least once; the reconciler re-enqueues a
job whose worker was killed) trains once: the earlier attempt's reward model, checkpoints,
rollbacks and updates are replaced, not added to, and a finished run is not trained again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bench.perfumer import WOODY_NOT_SWEET, Perfumer
from fragrance_ai.api.app import create_app
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.db.models import Job, JobStatus, Policy, RewardModel, Rollback, TrainingRun
from fragrance_ai.db.training import activate_policy, add_training_run
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.jobs.steps import train_policy
from fragrance_ai.rl.ppo import UpdateMetrics
from fragrance_ai.runtime import Runtime, build_runtime, install_runtime
from fragrance_ai.settings import RLSettings
from fragrance_ai.training.run import run_training
from fragrance_ai.training.start import training_config
from tests.conftest import make_settings

SEED = 7
UPDATES = 10  # checkpoints at updates 5 and 10


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the worker catches it, so nothing after it is
    recorded (the run and the job stay `started`)."""


@pytest.fixture
def learning_runtime(tmp_path: Path, catalogue: Catalogue) -> Iterator[Runtime]:
    """An installation where a perfumer has made 6 brief choices and 30 variation choices,
    installed as the process's runtime so that jobs.train_policy finds it."""
    runtime = build_runtime(make_settings(tmp_path, rl=RLSettings(auto_train_every=0)))
    upgrade_to_head(runtime.engine)
    with TestClient(create_app(runtime)) as client:
        perfumer = Perfumer(client, catalogue, WOODY_NOT_SWEET, np.random.default_rng(0))
        perfumer.sessions(perfumer.submit_briefs(), 30)
    install_runtime(runtime)
    yield runtime
    install_runtime(None)
    runtime.close()


def _new_job(runtime: Runtime) -> uuid.UUID:
    """A run and its job as the API makes them, left unqueued: the test delivers it."""
    with runtime.sessions() as session:
        # Every run starts from the initial policy, so runs can be compared.
        activate_policy(session, None)
        run = add_training_run(
            session,
            trigger="manual",
            seed=SEED,
            user_ref=None,
            config=training_config(runtime.settings.rl, total_updates=UPDATES),
        )
        session.commit()
        assert run.job_id is not None
        return run.job_id


def _kill_after(updates: int) -> Any:
    def hook(metrics: UpdateMetrics, total_updates: int) -> None:
        if metrics.update == updates:
            raise WorkerKilled

    return hook


def _record(runtime: Runtime, job_id: uuid.UUID) -> dict[str, Any]:
    """What the run left behind, without ids that differ between runs."""
    with runtime.sessions() as session:
        run = session.scalars(select(TrainingRun).where(TrainingRun.job_id == job_id)).one()
        job = session.get(Job, job_id)
        assert job is not None
        rewards = session.scalars(
            select(RewardModel).where(RewardModel.training_run_id == run.id)
        ).all()
        policies = session.scalars(
            select(Policy).where(Policy.training_run_id == run.id).order_by(Policy.at_update)
        ).all()
        rollbacks = session.scalars(
            select(Rollback).where(Rollback.training_run_id == run.id)
        ).all()
        metrics = dict(run.metrics or {})
        for key in ("best_policy_id", "activated_policy_id", "decision", "reward_model"):
            metrics.pop(key, None)
        root = runtime.settings.policies_root
        return {
            "job_status": job.status,
            "run_status": run.status,
            "reward_models": [(r.heldout_accuracy, r.sha256) for r in rewards],
            "reward_model_is_the_runs": [r.id for r in rewards] == [run.reward_model_id],
            "checkpoints": [(p.at_update, p.sha256, p.kept) for p in policies],
            "checkpoint_files": sorted(
                path.name for path in (root / f"runs/{run.id}").glob("*.safetensors")
            ),
            "rollbacks": len(rollbacks),
            # Steps per second is the one figure that is not a function of the seed.
            "updates": [{k: v for k, v in u.items() if k != "sps"} for u in run.updates],
            "metrics": metrics,
        }


def test_a_job_delivered_again_after_its_worker_was_killed_trains_once(
    learning_runtime: Runtime,
) -> None:
    runtime = learning_runtime
    clean_job = _new_job(runtime)
    train_policy(str(clean_job))
    clean = _record(runtime, clean_job)
    assert clean["run_status"] == "finished"
    assert [update for update, _, _ in clean["checkpoints"]] == [5, 10]

    job_id = _new_job(runtime)
    # First delivery: the worker dies after update 7, past the checkpoint at update 5.
    with runtime.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status = JobStatus.STARTED.value
        session.commit()
        with pytest.raises(WorkerKilled):
            run_training(runtime, session, job, on_update=_kill_after(7))
    killed = _record(runtime, job_id)
    assert killed["run_status"] == killed["job_status"] == "started"
    assert len(killed["updates"]) == 7
    assert len(killed["reward_models"]) == 1
    assert [update for update, _, _ in killed["checkpoints"]] == [5]

    # The reconciler's redelivery, through the worker's entry point.
    train_policy(str(job_id))
    again = _record(runtime, job_id)
    assert again["job_status"] == again["run_status"] == "finished"
    assert len(again["reward_models"]) == 1
    assert again["reward_model_is_the_runs"]
    assert len(again["updates"]) == UPDATES
    # The same reward model, checkpoints (byte for byte), updates and metrics as one clean run.
    assert again == clean

    # Killed after the run finished but before the job was marked: delivered once more,
    # the finished run is left as it is (its decision and end time included).
    with runtime.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status = JobStatus.STARTED.value
        run = session.scalars(select(TrainingRun).where(TrainingRun.job_id == job_id)).one()
        finished = (run.metrics, run.finished_at)
        session.commit()
    train_policy(str(job_id))
    assert _record(runtime, job_id) == {**again, "job_status": "finished"}
    with runtime.sessions() as session:
        run = session.scalars(select(TrainingRun).where(TrainingRun.job_id == job_id)).one()
        assert (run.metrics, run.finished_at) == finished

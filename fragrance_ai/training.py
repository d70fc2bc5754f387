"""A training run on the rl_training worker (placeholder until the trainer lands)."""

from __future__ import annotations

from fragrance_ai.runtime import Runtime


def run_training_job(runtime: Runtime, job_id: str) -> None:
    raise NotImplementedError

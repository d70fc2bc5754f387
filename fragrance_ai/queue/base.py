"""What every queue backend offers to the API and to job functions."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from enum import StrEnum
from typing import Protocol


class QueueName(StrEnum):
    LLM_INFERENCE = "llm_inference"
    RL_TRAINING = "rl_training"


class QueueUnavailable(Exception):
    """The queue cannot take work right now (Redis down, ...)."""


StepFunction = Callable[[str], None]


class JobQueue(Protocol):
    backend: str

    def enqueue(
        self, queue: QueueName, step: StepFunction, job_id: str, *, timeout_s: int | None = None
    ) -> None:
        """Run `step(job_id)` on a worker of `queue`, retried with back-off on errors;
        `timeout_s` overrides the queue policy's job timeout (a training run's is longer)."""

    def depth(self) -> dict[QueueName, int]: ...

    def oldest_wait_s(self) -> dict[QueueName, float]:
        """Seconds the job at the head of each queue has waited; 0 for an empty queue."""

    def ping(self) -> None:
        """Raise QueueUnavailable when the queue cannot take work."""

    def close(self) -> None: ...


# Set by the in-process backend around each attempt; RQ's own job carries the figure there.
inprocess_attempts_remaining: ContextVar[int | None] = ContextVar(
    "inprocess_attempts_remaining", default=None
)


def attempts_remaining() -> int:
    """Retries left after the attempt now running; 0 means this attempt is the last."""
    remaining = inprocess_attempts_remaining.get()
    if remaining is not None:
        return remaining
    from rq import get_current_job

    job = get_current_job()
    if job is None:
        return 0
    return job.retries_left or 0

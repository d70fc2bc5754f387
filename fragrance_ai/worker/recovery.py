"""What to do about one unfinished job, given where RQ has its next step: the reconciler's
decision, kept free of I/O so that every case can be tested on its own.

The job's row is the source of truth: a job the database calls unfinished must have its next
step somewhere in RQ, waiting or running on a live worker. Otherwise the step was lost
(Redis flushed or restarted, a worker killed mid-job, an enqueue that never happened) and is
put back; RQ's job id `{job_id}-{step}` keeps that from ever doubling the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class InQueue(StrEnum):
    MISSING = "missing"  # RQ has no job for the step
    WAITING = "waiting"  # queued, being dequeued, scheduled for a retry, or deferred
    RUNNING = "running"  # started; `StepInQueue.workers` says by whom
    ENDED = "ended"  # finished, failed, stopped or canceled in RQ, yet the row is unfinished
    # Queued in RQ's job hash yet in no queue list: a worker popped it and has not marked it
    # started yet (milliseconds, for a worker of several queues), or died in between.
    UNLISTED = "unlisted"


@dataclass(frozen=True)
class StepInQueue:
    state: InQueue
    # For RUNNING: the workers RQ's executions of the step name (empty when none is known).
    workers: frozenset[str] = frozenset()
    # For UNLISTED: when a reconciler first found it so.
    since: datetime | None = None


@dataclass(frozen=True)
class UnfinishedJob:
    job_id: str
    step: str
    # Steps claimed so far (the row's `attempts`): every delivery counts, retries and redos.
    deliveries: int
    updated_at: datetime


class Action(StrEnum):
    LEAVE = "leave"
    ENQUEUE = "enqueue"  # RQ has nothing for the step: enqueue it
    REPLACE = "replace"  # RQ's job for the step is stale: delete it, then enqueue afresh
    GIVE_UP = "give_up"  # lost too often: mark the job failed


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


def decide(
    job: UnfinishedJob,
    in_queue: StepInQueue,
    live_workers: frozenset[str],
    *,
    now: datetime,
    settle_s: float,
    max_deliveries: int,
) -> Decision:
    """`settle_s`: a step that ended in RQ this recently may have committed its row after
    the row was read, and one popped this recently may be about to start; either is left
    for the next pass rather than redone."""
    if in_queue.state is InQueue.WAITING:
        return Decision(Action.LEAVE, "waiting in RQ")
    if in_queue.state is InQueue.RUNNING:
        running_on = sorted(in_queue.workers & live_workers)
        if running_on:
            return Decision(Action.LEAVE, f"running on live worker {running_on[0]}")
        lost = (
            "running on a worker that is gone ("
            + (", ".join(sorted(in_queue.workers)) or "unknown")
            + ")"
        )
    elif in_queue.state is InQueue.UNLISTED:
        if in_queue.since is None or (now - in_queue.since).total_seconds() < settle_s:
            return Decision(Action.LEAVE, "popped from its queue, not started yet; checked again")
        lost = "popped from its queue by a worker that never started it"
    elif in_queue.state is InQueue.ENDED:
        if (now - job.updated_at).total_seconds() < settle_s:
            return Decision(Action.LEAVE, "ended in RQ a moment ago; checked again next pass")
        lost = "ended in RQ but the job is unfinished"
    else:
        lost = "not in RQ"
    if job.deliveries >= max_deliveries:
        return Decision(
            Action.GIVE_UP, f"step {job.step} {lost}; delivered {job.deliveries} times already"
        )
    action = Action.ENQUEUE if in_queue.state is InQueue.MISSING else Action.REPLACE
    return Decision(action, f"step {job.step} {lost}")

"""The reconciler's decision for one unfinished job, case by case (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from fragrance_ai.worker.recovery import (
    Action,
    InQueue,
    StepInQueue,
    UnfinishedJob,
    decide,
)

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def _job(*, deliveries: int = 1, touched_s_ago: float = 300) -> UnfinishedJob:
    return UnfinishedJob(
        job_id="j1",
        step="design_formulas",
        deliveries=deliveries,
        updated_at=NOW - timedelta(seconds=touched_s_ago),
    )


def _decide(job: UnfinishedJob, in_queue: StepInQueue, live: Iterable[str] = ()) -> Action:
    return decide(job, in_queue, frozenset(live), now=NOW, settle_s=30, max_deliveries=5).action


def test_a_step_waiting_in_rq_is_left_alone() -> None:
    assert _decide(_job(), StepInQueue(InQueue.WAITING)) is Action.LEAVE


def test_a_step_running_on_a_live_worker_is_never_redone() -> None:
    running = StepInQueue(InQueue.RUNNING, frozenset({"rl-a", "rl-b"}))
    assert _decide(_job(touched_s_ago=0), running, {"rl-b"}) is Action.LEAVE


def test_a_step_whose_worker_is_gone_is_replaced() -> None:
    running = StepInQueue(InQueue.RUNNING, frozenset({"rl-a"}))
    assert _decide(_job(touched_s_ago=0), running, {"rl-other"}) is Action.REPLACE


def test_a_step_running_on_no_known_worker_is_replaced() -> None:
    assert _decide(_job(), StepInQueue(InQueue.RUNNING)) is Action.REPLACE


def test_a_step_rq_lost_is_enqueued() -> None:
    assert _decide(_job(deliveries=0), StepInQueue(InQueue.MISSING)) is Action.ENQUEUE


def test_a_step_that_ended_in_rq_is_replaced_once_settled() -> None:
    assert _decide(_job(touched_s_ago=300), StepInQueue(InQueue.ENDED)) is Action.REPLACE


def test_a_step_that_ended_in_rq_a_moment_ago_waits_for_the_next_pass() -> None:
    assert _decide(_job(touched_s_ago=1), StepInQueue(InQueue.ENDED)) is Action.LEAVE


@pytest.mark.parametrize(
    "in_queue",
    [StepInQueue(InQueue.MISSING), StepInQueue(InQueue.ENDED), StepInQueue(InQueue.RUNNING)],
)
def test_a_job_lost_too_often_is_given_up(in_queue: StepInQueue) -> None:
    decision = decide(
        _job(deliveries=5), in_queue, frozenset(), now=NOW, settle_s=30, max_deliveries=5
    )
    assert decision.action is Action.GIVE_UP
    assert "delivered 5 times" in decision.reason


def test_a_job_under_the_limit_is_not_given_up() -> None:
    assert _decide(_job(deliveries=4), StepInQueue(InQueue.MISSING)) is Action.ENQUEUE


def test_a_step_popped_but_not_yet_started_is_left_for_the_next_pass() -> None:
    popped = StepInQueue(InQueue.UNLISTED, since=NOW - timedelta(seconds=1))
    assert _decide(_job(), popped) is Action.LEAVE


def test_a_step_popped_and_never_started_is_replaced_once_settled() -> None:
    popped = StepInQueue(InQueue.UNLISTED, since=NOW - timedelta(seconds=31))
    assert _decide(_job(), popped) is Action.REPLACE

"""The ensemble's safety machinery, without a model: the JSON guard, retries with back-off,
the circuit breaker and the downshift governor."""

from __future__ import annotations

import random

import pytest

from fragrance_ai.llm.breaker import BreakerState, CircuitBreaker
from fragrance_ai.llm.downshift import ModeGovernor
from fragrance_ai.llm.guard import GuardRejected, extract_json, parse_record, with_retries
from fragrance_ai.llm.reading import ModelReading
from fragrance_ai.settings import DownshiftSettings, InferenceMode


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_guard_takes_the_json_out_of_chatter_and_repairs_a_trailing_comma() -> None:
    text = 'Sure! Here it is: {"families": ["citrus",], "moods": []} Hope that helps.'
    reading = parse_record(text, ModelReading)
    assert reading.families == ["citrus"]


def test_the_guard_closes_an_answer_cut_off_by_a_timeout() -> None:
    assert extract_json('{"families": ["citrus", "wo') == '{"families": ["citrus", "wo"]}'
    assert parse_record('{"families": ["citrus"], "notes": ["berg', ModelReading).notes == ["berg"]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("no json here", "no JSON object"),
        ('{"families": "citrus"}', "families"),
        ('{"colour": "blue"}', "colour"),
    ],
)
def test_the_guard_rejects_what_it_cannot_validate_and_says_why(text: str, why: str) -> None:
    with pytest.raises(GuardRejected, match=why):
        parse_record(text, ModelReading)


def test_retries_back_off_exponentially_with_jitter_and_stop_after_the_last() -> None:
    sleeps: list[float] = []
    calls: list[int] = []

    def attempt(number: int) -> str:
        calls.append(number)
        raise GuardRejected("bad")

    with pytest.raises(GuardRejected):
        with_retries(
            attempt,
            retries=3,
            base_delay_s=0.1,
            max_delay_s=10,
            rng=random.Random(1),
            sleep=sleeps.append,
        )
    assert calls == [0, 1, 2, 3]
    assert len(sleeps) == 3
    for number, pause in enumerate(sleeps):
        assert 0 <= pause <= 0.1 * 2**number
    assert len(set(sleeps)) == 3  # jittered, not a fixed schedule


def test_a_retry_that_succeeds_returns_its_result_and_the_attempts_made() -> None:
    def attempt(number: int) -> str:
        if number < 2:
            raise GuardRejected("bad")
        return "ok"

    assert with_retries(attempt, retries=3, sleep=lambda _: None) == ("ok", 3)


def test_the_breaker_opens_after_the_threshold_then_lets_one_trial_through_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=30, clock=clock)
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    clock.now = 31
    assert breaker.state.value == "half_open"
    assert breaker.allow()
    assert not breaker.allow()  # one trial at a time
    breaker.record_success()
    assert breaker.state.value == "closed"
    assert breaker.allow()


def test_a_failed_trial_opens_the_breaker_again_at_once() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=5, reset_after_s=30, clock=clock)
    for _ in range(5):
        breaker.record_failure()
    clock.now = 31
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now = 50
    assert not breaker.allow()


def test_a_failing_mode_downshifts_step_by_step_and_recovers_after_its_rest() -> None:
    clock = Clock()
    governor = ModeGovernor(
        DownshiftSettings(window=4, max_error_rate=0.5, recover_after_s=60), clock=clock
    )
    assert governor.effective(InferenceMode.CREATIVE) is InferenceMode.CREATIVE
    for _ in range(3):
        governor.record(InferenceMode.CREATIVE, 1.0, ok=False)
    assert governor.effective(InferenceMode.CREATIVE) is InferenceMode.BALANCED
    for _ in range(3):
        governor.record(InferenceMode.BALANCED, 1.0, ok=False)
    assert governor.effective(InferenceMode.CREATIVE) is InferenceMode.FAST
    clock.now = 61
    assert governor.effective(InferenceMode.CREATIVE) is InferenceMode.CREATIVE


def test_a_slow_mode_downshifts_even_without_errors() -> None:
    governor = ModeGovernor(
        DownshiftSettings(window=3, max_latency_s={InferenceMode.BALANCED: 5.0}), clock=Clock()
    )
    for _ in range(3):
        governor.record(InferenceMode.BALANCED, 9.0, ok=True)
    assert governor.effective(InferenceMode.BALANCED) is InferenceMode.FAST
    assert governor.effective(InferenceMode.FAST) is InferenceMode.FAST

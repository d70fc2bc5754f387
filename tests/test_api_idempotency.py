"""Idempotency-Key on the real app, over SQLite and PostgreSQL. The queue is RQ on Redis with
no worker, so an accepted brief stays queued and nothing else runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from fragrance_ai.db.idempotency import purge_expired
from fragrance_ai.db.models import Brief, IdempotencyRecord, utcnow
from fragrance_ai.runtime import Runtime
from fragrance_ai.security.keys import Scope
from tests.security_helpers import bearer, new_key, running, served

pytestmark = pytest.mark.integration

BRIEF = {"text": "fresh citrus cologne for summer with a woody base"}


@pytest.fixture(params=["sqlite", "postgresql"])
def runtime_on(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Iterator[Runtime]:
    overrides: dict[str, object] = {"redis_url": redis_url}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    with running(tmp_path, **overrides) as runtime:
        yield runtime


@pytest.fixture
def api(runtime_on: Runtime) -> Iterator[TestClient]:
    with served(runtime_on) as client:
        yield client


def _briefs(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Brief)) or 0)


def test_a_retry_with_the_same_key_gets_the_first_answer_again(
    runtime_on: Runtime, api: TestClient
) -> None:
    first = api.post("/v1/briefs", json=BRIEF, headers={"Idempotency-Key": "order-1"})
    assert first.status_code == 202, first.text
    assert "Idempotent-Replayed" not in first.headers
    retry = api.post("/v1/briefs", json=BRIEF, headers={"Idempotency-Key": "order-1"})
    assert retry.status_code == 202
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert _briefs(runtime_on) == 1
    # The draft's form, a quoted string, is the same key.
    quoted = api.post("/v1/briefs", json=BRIEF, headers={"Idempotency-Key": '"order-1"'})
    assert quoted.json() == first.json()
    # Without the header nothing changes: two requests, two briefs.
    api.post("/v1/briefs", json=BRIEF)
    api.post("/v1/briefs", json=BRIEF)
    assert _briefs(runtime_on) == 3


def test_a_client_error_is_replayed_too(api: TestClient) -> None:
    missing = "/v1/formulas/00000000-0000-0000-0000-000000000000/variations"
    first = api.post(missing, json={"n": 2}, headers={"Idempotency-Key": "v-1"})
    assert first.status_code == 404
    retry = api.post(missing, json={"n": 2}, headers={"Idempotency-Key": "v-1"})
    assert retry.status_code == 404
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_payload_is_refused_with_422(
    runtime_on: Runtime, api: TestClient
) -> None:
    assert api.post("/v1/briefs", json=BRIEF, headers={"Idempotency-Key": "k"}).status_code == 202
    other_body = api.post(
        "/v1/briefs", json={"text": "a warm amber"}, headers={"Idempotency-Key": "k"}
    )
    assert other_body.status_code == 422
    assert "Idempotency-Key 'k' was used for another request" in other_body.json()["detail"]
    other_path = api.post("/v1/feedback", json=BRIEF, headers={"Idempotency-Key": "k"})
    assert other_path.status_code == 422
    assert _briefs(runtime_on) == 1


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("x" * 256, "256 characters; at most 255"),
        ("  ", "empty"),
        ('""', "empty"),
        ("a\x7fb", "ASCII"),
    ],
)
def test_a_malformed_key_is_refused_with_400_naming_the_header(
    api: TestClient, key: str, problem: str
) -> None:
    response = api.post("/v1/briefs", json=BRIEF, headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Idempotency-Key:")
    assert problem in response.json()["detail"]


def test_a_key_of_255_characters_is_accepted(api: TestClient) -> None:
    response = api.post("/v1/briefs", json=BRIEF, headers={"Idempotency-Key": "x" * 255})
    assert response.status_code == 202


def test_keys_belong_to_their_caller(runtime_on: Runtime, api: TestClient) -> None:
    one, two = (bearer(new_key(runtime_on, Scope.WRITE, name=name)) for name in ("a", "b"))
    for headers in (one, two):
        response = api.post(
            "/v1/briefs", json=BRIEF, headers={**headers, "Idempotency-Key": "same"}
        )
        assert response.status_code == 202
        assert "Idempotent-Replayed" not in response.headers
    assert _briefs(runtime_on) == 2
    with runtime_on.sessions() as session:
        principals = set(session.scalars(select(IdempotencyRecord.principal)))
    assert principals == {f"key:{token['Authorization'].split('_')[1]}" for token in (one, two)}


def test_an_expired_key_is_free_again_and_purged(runtime_on: Runtime, api: TestClient) -> None:
    assert api.post("/v1/briefs", json=BRIEF, headers={"Idempotency-Key": "old"}).status_code == 202
    with runtime_on.sessions() as session:
        session.execute(
            update(IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    reused = api.post("/v1/briefs", json={"text": "amber"}, headers={"Idempotency-Key": "old"})
    assert reused.status_code == 202
    assert "Idempotent-Replayed" not in reused.headers
    assert _briefs(runtime_on) == 2
    with runtime_on.sessions() as session:
        session.execute(
            update(IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
        assert purge_expired(session, utcnow()) == 1
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0


def test_a_server_error_releases_the_key_so_a_retry_runs_again(tmp_path: Path) -> None:
    # A queue that cannot be reached: the brief is kept and the answer is 503.
    with running(tmp_path, redis_url="redis://127.0.0.1:1/0") as runtime, served(runtime) as api:
        first = api.post("/v1/briefs", json=BRIEF, headers={"Idempotency-Key": "r"})
        assert first.status_code == 503
        retry = api.post("/v1/briefs", json=BRIEF, headers={"Idempotency-Key": "r"})
        assert retry.status_code == 503
        assert "Idempotent-Replayed" not in retry.headers
        assert _briefs(runtime) == 2
        with runtime.sessions() as session:
            assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0


def test_a_retry_while_the_first_request_runs_gets_409(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    with (
        running(tmp_path, database_url=postgres_url, redis_url=redis_url) as runtime,
        served(runtime) as api,
    ):
        blocker = runtime.engine.connect()
        # Holds the first request inside its handler, at the insert of its brief, while
        # its idempotency record is already committed.
        blocker.execute(text("LOCK TABLE briefs IN EXCLUSIVE MODE"))
        answers: dict[str, Any] = {}

        def post(name: str) -> threading.Thread:
            def send() -> None:
                answers[name] = api.post(
                    "/v1/briefs", json=BRIEF, headers={"Idempotency-Key": "slow"}
                )

            thread = threading.Thread(target=send)
            thread.start()
            return thread

        thread = post("first")
        try:
            _wait_for_claim(runtime, "slow")
            # In a thread too: a retry that wrongly ran the brief again would wait on the
            # lock, and must fail this test instead of hanging it.
            post("retry").join(timeout=20)
            retry = answers.get("retry")
            assert retry is not None, "the retry waited for the first request"
            assert retry.status_code == 409
            assert retry.headers["Retry-After"] == "1"
            assert "still being processed" in retry.json()["detail"]
        finally:
            blocker.rollback()
            blocker.close()
            thread.join(timeout=30)
        assert not thread.is_alive()
        assert answers["first"].status_code == 202, answers["first"].text
        after = api.post("/v1/briefs", json=BRIEF, headers={"Idempotency-Key": "slow"})
        assert after.status_code == 202
        assert after.json() == answers["first"].json()
        assert after.headers["Idempotent-Replayed"] == "true"


def _wait_for_claim(runtime: Runtime, key: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with runtime.sessions() as session:
            claimed = session.scalars(
                select(IdempotencyRecord).where(IdempotencyRecord.idempotency_key == key)
            ).one_or_none()
            if claimed is not None and claimed.status_code is None:
                return
        time.sleep(0.02)
    raise AssertionError(f"the first request never claimed {key!r}")


def test_a_claim_left_without_an_answer_is_taken_over_after_the_in_flight_timeout(
    runtime_on: Runtime, api: TestClient
) -> None:
    headers = {"Idempotency-Key": "orphan"}
    assert api.post("/v1/briefs", json=BRIEF, headers=headers).status_code == 202
    # As if the process that claimed it had died before answering: no answer stored.
    with runtime_on.sessions() as session:
        session.execute(update(IdempotencyRecord).values(status_code=None, claimed_at=utcnow()))
        session.commit()
    assert api.post("/v1/briefs", json=BRIEF, headers=headers).status_code == 409
    timeout = runtime_on.settings.security.idempotency_in_flight_timeout_s
    with runtime_on.sessions() as session:
        stale = utcnow() - timedelta(seconds=timeout + 1)
        session.execute(update(IdempotencyRecord).values(claimed_at=stale))
        session.commit()
    taken_over = api.post("/v1/briefs", json=BRIEF, headers=headers)
    assert taken_over.status_code == 202
    assert "Idempotent-Replayed" not in taken_over.headers
    assert _briefs(runtime_on) == 2
    replayed = api.post("/v1/briefs", json=BRIEF, headers=headers)
    assert replayed.json() == taken_over.json()

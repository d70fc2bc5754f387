"""The API with its database or its queue unreachable (a closed port for each): writes answer
503, never 500; /ready names what is down; /health answers 200 because it touches nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy import func, select

from fragrance_ai.api.app import create_app
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.db.models import Brief, Job
from fragrance_ai.runtime import Runtime, build_runtime, install_runtime
from fragrance_ai.settings import SecuritySettings
from tests.conftest import make_settings
from tests.helpers import free_port
from tests.security_helpers import bearer

Serve = Callable[..., TestClient]

BRIEF = {"text": "fresh citrus cologne for summer with a woody base"}


def _closed_database() -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"


def _closed_queue() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """`serve(database_url=..., redis_url=...)`: a TestClient on an app built on them."""
    opened: list[tuple[TestClient, Runtime]] = []

    def start(
        *, database_url: str, redis_url: str, migrate: bool = False, **overrides: object
    ) -> TestClient:
        runtime = build_runtime(
            make_settings(tmp_path, database_url=database_url, redis_url=redis_url, **overrides)
        )
        if migrate:
            upgrade_to_head(runtime.engine)
        client = TestClient(create_app(runtime), raise_server_exceptions=False)
        client.__enter__()
        opened.append((client, runtime))
        return client

    yield start
    for client, runtime in opened:
        client.__exit__(None, None, None)
        runtime.close()
    install_runtime(None)


def test_health_answers_200_with_the_database_and_the_queue_both_unreachable(
    serve: Serve,
) -> None:
    client = serve(database_url=_closed_database(), redis_url=_closed_queue())

    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["database", "migrations", "queue"]


@pytest.mark.integration
def test_with_the_database_down_a_brief_gets_503_and_ready_names_the_database(
    serve: Serve,
    redis_url: str,
) -> None:
    client = serve(database_url=_closed_database(), redis_url=redis_url)

    response = client.post("/v1/briefs", json=BRIEF)
    assert response.status_code == 503, response.text
    assert "database is unavailable" in response.json()["detail"]
    assert client.get("/v1/formulas").status_code == 503
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["database", "migrations"]
    assert ready.json()["checks"]["queue"] == "ok"
    assert client.get("/health").status_code == 200
    # Nothing was queued for a brief that was never saved.
    assert Redis.from_url(redis_url).llen("rq:queue:llm_inference") == 0


@pytest.mark.integration
def test_with_the_queue_down_a_brief_gets_503_and_is_kept(
    serve: Serve,
    postgres_url: str,
) -> None:
    client = serve(database_url=postgres_url, redis_url=_closed_queue(), migrate=True)

    response = client.post("/v1/briefs", json=BRIEF)
    assert response.status_code == 503, response.text
    assert "was saved, retry later" in response.json()["detail"]
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["queue"]
    assert client.get("/health").status_code == 200
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Brief)) == 1
        job = session.scalars(select(Job)).one()
    assert job.status == "failed"
    assert job.error is not None
    assert job.error.startswith("could not enqueue: redis:")


def test_with_the_database_down_a_request_with_a_key_gets_503(serve: Serve) -> None:
    client = serve(
        database_url=_closed_database(),
        redis_url=_closed_queue(),
        security=SecuritySettings(require_api_keys=True),
    )
    # Well formed, so it must be looked up; the database cannot answer.
    key = "fai_000000000000_" + "A" * 43

    response = client.post("/v1/briefs", json=BRIEF, headers=bearer(key))

    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"

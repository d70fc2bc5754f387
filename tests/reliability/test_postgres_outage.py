"""PostgreSQL stopped under a steady stream of briefs, then started again: while it is down
the API answers 503 (never 500, never a hang) and /health stays 200; once it is back the
same API process serves again without a restart, and every brief it accepted is stored and
its job finishes."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.db.models import Brief
from fragrance_ai.runtime import Runtime, build_runtime, install_runtime
from fragrance_ai.security.keys import Scope
from tests.conftest import make_settings
from tests.helpers import free_port, wait_until_answering
from tests.reliability.stack import (
    BRIEFS,
    PrivateCluster,
    Processes,
    all_ended,
    assert_each_finished_once,
    command,
    stack_environment,
    wait_for,
)
from tests.security_helpers import bearer, new_key

pytestmark = [
    pytest.mark.integration,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not PrivateCluster.available(),
        reason="needs root, runuser and PostgreSQL 15's initdb for a private cluster",
    ),
]

# The longest any answer may take, outage or not: a request must never hang.
ANSWER_BOUND_S = 10.0
OUTAGE_S = 3.0


@dataclass
class Answer:
    sent: float
    took_s: float
    status: int | None  # None: no HTTP answer at all (the error is in `problem`)
    job_id: uuid.UUID | None = None
    brief_id: uuid.UUID | None = None
    problem: str = ""


@dataclass
class BriefStream:
    """Posts briefs one after another from a thread of its own until stopped."""

    base_url: str
    headers: dict[str, str]
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> BriefStream:
        self._thread = threading.Thread(target=self._run, name="brief-stream", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=2 * ANSWER_BOUND_S)
        assert not self._thread.is_alive()

    def accepted_since(self, moment: float) -> int:
        return sum(
            1 for answer in list(self.answers) if answer.status == 202 and answer.sent >= moment
        )

    def refused_since(self, moment: float) -> int:
        return sum(
            1 for answer in list(self.answers) if answer.status == 503 and answer.sent >= moment
        )

    def _run(self) -> None:
        with httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=ANSWER_BOUND_S
        ) as client:
            sent = 0
            while not self._stop.is_set():
                text = BRIEFS[sent % len(BRIEFS)]
                sent += 1
                began = time.monotonic()
                try:
                    response = client.post("/v1/briefs", json={"text": text})
                except httpx.HTTPError as error:
                    self.answers.append(
                        Answer(began, time.monotonic() - began, None, problem=repr(error))
                    )
                    continue
                answer = Answer(began, time.monotonic() - began, response.status_code)
                if response.status_code == 202:
                    answer.job_id = uuid.UUID(response.json()["job_id"])
                    answer.brief_id = uuid.UUID(response.json()["brief_id"])
                else:
                    answer.problem = response.text
                self.answers.append(answer)
                # About ten a second: a stream, not a benchmark.
                self._stop.wait(0.1)


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster(free_port())
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def on_cluster(tmp_path: Path, cluster: PrivateCluster, redis_url: str) -> Iterator[Runtime]:
    runtime = build_runtime(make_settings(tmp_path, database_url=cluster.url, redis_url=redis_url))
    upgrade_to_head(runtime.engine)
    install_runtime(runtime)
    yield runtime
    install_runtime(None)
    runtime.close()


def _ready_status(client: httpx.Client) -> tuple[int, list[str]]:
    response = client.get("/ready")
    return response.status_code, response.json().get("failing", [])


def _assert_only_202_or_503_in_bounded_time(
    answers: list[Answer], stopped: float, restarting: float
) -> list[Answer]:
    """Every answer came within the bound and was 202 or 503; those sent while PostgreSQL
    was down (returned) were all 503s naming the database."""
    unexpected = [a for a in answers if a.status not in (202, 503)]
    assert not unexpected, unexpected[:5]
    assert max(answer.took_s for answer in answers) < ANSWER_BOUND_S
    during = [a for a in answers if stopped <= a.sent < restarting]
    assert during
    assert all(a.status == 503 for a in during), [a.status for a in during]
    assert all("database is unavailable" in a.problem for a in during)
    return during


def _assert_database_down(client: httpx.Client) -> None:
    """/ready names the database; /health, which touches nothing, still answers 200."""
    status, failing = _ready_status(client)
    assert status == 503, status
    assert "database" in failing, failing
    assert client.get("/health").status_code == 200


def test_the_api_rides_out_a_postgres_outage_and_loses_no_accepted_brief(
    tmp_path: Path, cluster: PrivateCluster, on_cluster: Runtime, redis_url: str
) -> None:
    runtime = on_cluster
    # Staging: API keys are required, so the API runs as deployed, with a key.
    token = new_key(runtime, Scope.READ, Scope.WRITE)
    environment = stack_environment(tmp_path, cluster.url, redis_url)
    api_port = free_port()
    processes = Processes(tmp_path)
    base_url = f"http://127.0.0.1:{api_port}"
    started = time.monotonic()
    try:
        api = processes.start(command("serve", "--port", str(api_port)), environment)
        worker = processes.start(
            command("worker", "rl", "--queue", "llm_inference", "--queue", "rl_training"),
            environment,
        )
        with httpx.Client(base_url=base_url, timeout=ANSWER_BOUND_S) as client:
            wait_until_answering(client, api, "/ready")
            stream = BriefStream(base_url, bearer(token)).start()
            wait_for(lambda: stream.accepted_since(0) >= 5, timeout_s=30, what="briefs accepted")

            cluster.stop()
            stopped = time.monotonic()
            _assert_database_down(client)
            wait_for(lambda: stream.refused_since(stopped) >= 5, timeout_s=30, what="503s")
            # Down for a while, so that pooled connections and the workers see it too.
            wait_for(lambda: time.monotonic() - stopped >= OUTAGE_S, timeout_s=10, what="outage")
            _assert_database_down(client)

            restarting = time.monotonic()
            cluster.start()
            restarted = time.monotonic()
            wait_for(lambda: _ready_status(client)[0] == 200, timeout_s=30, what="ready again")
            ready_after_s = time.monotonic() - restarted
            wait_for(
                lambda: stream.accepted_since(restarted) >= 5, timeout_s=30, what="accepted again"
            )
            stream.stop()
            first_accepted = min(
                answer.sent
                for answer in stream.answers
                if answer.status == 202 and answer.sent >= restarted
            )
            accepted = [answer for answer in stream.answers if answer.status == 202]
            job_ids = [answer.job_id for answer in accepted if answer.job_id is not None]
            wait_for(lambda: all_ended(runtime, job_ids), timeout_s=120, what="every job ends")
            assert api.poll() is None
            assert worker.poll() is None
        processes.stop(api)
        processes.stop(worker)
    finally:
        processes.close()

    during = _assert_only_202_or_503_in_bounded_time(stream.answers, stopped, restarting)
    slowest = max(answer.took_s for answer in stream.answers)
    with runtime.sessions() as session:
        stored = set(session.scalars(select(Brief.id)))
    missing = [a.brief_id for a in accepted if a.brief_id not in stored]
    assert not missing
    duplicates = assert_each_finished_once(runtime, job_ids)
    assert duplicates == 0
    print(
        f"\npostgres outage: briefs accepted={len(accepted)} "
        f"(before={sum(1 for a in accepted if a.sent < stopped)}, "
        f"after={sum(1 for a in accepted if a.sent >= restarted)}), "
        f"503 during the outage={len(during)} (outage {restarting - stopped:.1f} s), "
        f"ready again after {ready_after_s:.2f} s, first brief accepted "
        f"{first_accepted - restarted:.2f} s after the restart, slowest answer "
        f"{slowest:.2f} s, missing=0, duplicates={duplicates}, "
        f"wall={time.monotonic() - started:.1f}s"
    )

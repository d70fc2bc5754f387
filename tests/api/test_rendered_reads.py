"""A GET answered before from rendered JSON is answered again without routing, and still
behind every guard: API key and scope, rate limit, request id, metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from fragrance_ai.db.repositories import save_designed_formula
from fragrance_ai.domain.designer import RuleBasedDesigner
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.runtime import Runtime
from fragrance_ai.security.keys import Scope
from fragrance_ai.settings import RateLimitSettings, SecuritySettings
from tests.security_helpers import bearer, new_key, running, served

SUMMARY = "/v1/ingredients?limit=50&view=summary"
BERGAMOT = "/v1/ingredients/8007-75-8"


def store_formulas(runtime: Runtime, count: int = 2) -> list[str]:
    parser = DeterministicBriefParser(runtime.catalogue)
    designer = RuleBasedDesigner(runtime.catalogue)
    brief = parser.parse("fresh citrus cologne for summer with a woody base")
    with runtime.sessions() as session:
        rows = [
            save_designed_formula(
                session, designed, designer="rule_based", brief_id=None, job_id=None
            )
            for designed in designer.design(brief, count=count)
        ]
        session.commit()
        return [str(row.id) for row in rows]


def requests_counted(route: str, status: str) -> float:
    labels = {"route": route, "method": "GET", "status": status}
    return REGISTRY.get_sample_value("fragrance_http_requests_total", labels) or 0.0


def test_a_read_answered_before_is_answered_again_without_routing(
    runtime: Runtime, client: TestClient
) -> None:
    first_id, second_id = store_formulas(runtime)
    targets = [f"/v1/formulas/{first_id}", SUMMARY, BERGAMOT]
    first = {target: client.get(target) for target in targets}
    assert all(response.status_code == 200 for response in first.values())
    # No route left: only what was answered before can still be answered.
    client.app.router.routes.clear()  # type: ignore[attr-defined]
    for target, before in first.items():
        again = client.get(target)
        assert again.status_code == 200, target
        assert again.content == before.content
        for header in ("content-type", "content-length", "etag", "cache-control"):
            assert again.headers[header] == before.headers[header], (target, header)
        not_modified = client.get(target, headers={"If-None-Match": before.headers["etag"]})
        assert not_modified.status_code == 304
        assert not_modified.content == b""
        assert not_modified.headers["etag"] == before.headers["etag"]
    assert client.get(f"/v1/formulas/{second_id}").status_code == 404
    assert client.get("/v1/ingredients?limit=49&view=summary").status_code == 404


def test_only_a_target_answered_before_skips_the_routes_checks(
    runtime: Runtime, client: TestClient
) -> None:
    (formula_id, _) = store_formulas(runtime)
    assert client.get(SUMMARY).status_code == 200
    assert client.get(f"/v1/formulas/{formula_id}").status_code == 200
    # Another query is validated by the route, and HEAD is still refused.
    assert client.get("/v1/ingredients?limit=0&view=summary").status_code == 422
    assert client.head(f"/v1/formulas/{formula_id}").status_code == 405
    assert client.get("/v1/formulas/not-a-uuid").status_code == 422


def test_a_remembered_read_passes_the_key_scope_and_rate_limit_checks(tmp_path: Path) -> None:
    security = SecuritySettings(
        require_api_keys=True, rate_limit=RateLimitSettings(requests_per_minute=6, burst=3)
    )
    with running(tmp_path, security=security) as runtime, served(runtime) as client:
        (formula_id, _) = store_formulas(runtime)
        target = f"/v1/formulas/{formula_id}"
        reader = bearer(new_key(runtime, Scope.READ))
        writer = bearer(new_key(runtime, Scope.WRITE))
        assert client.get(target, headers=reader).status_code == 200
        assert client.get(target).status_code == 401
        refused = client.get(target, headers=writer)
        assert refused.status_code == 403
        assert "lacks the `read` scope" in refused.json()["detail"]
        # The reader's fourth request in its burst of three.
        assert [client.get(target, headers=reader).status_code for _ in range(3)] == [200, 200, 429]


def test_a_remembered_read_carries_a_request_id_and_is_counted_under_its_route(
    runtime: Runtime, client: TestClient
) -> None:
    (formula_id, _) = store_formulas(runtime)
    target = f"/v1/formulas/{formula_id}"
    route = "/v1/formulas/{formula_id}"
    before = requests_counted(route, "200"), requests_counted("unmatched", "200")
    assert client.get(target).status_code == 200
    again = client.get(target, headers={"X-Request-ID": "perfumer-42"})
    assert again.headers["X-Request-ID"] == "perfumer-42"
    assert client.get(target).headers["X-Request-ID"]
    after = requests_counted(route, "200"), requests_counted("unmatched", "200")
    assert after == (before[0] + 3, before[1])


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_only_gets_are_remembered(runtime: Runtime, client: TestClient, method: str) -> None:
    (formula_id, _) = store_formulas(runtime)
    assert client.get(f"/v1/formulas/{formula_id}").status_code == 200
    assert client.request(method, f"/v1/formulas/{formula_id}").status_code == 405

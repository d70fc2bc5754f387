"""Reads at the framework's speed: formulas and the catalogue answered from JSON rendered once,
with strong ETags and conditional GETs, and lists walked with keyset cursors."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete

from fragrance_ai.api.app import create_app
from fragrance_ai.api.formula_lines import formula_view
from fragrance_ai.api.http_cache import Rendered, RenderedStore, none_match, rendered
from fragrance_ai.api.rendered_catalogue import ingredient_view, summary_view
from fragrance_ai.api.schemas.design import (
    FormulaView,
    IngredientSummaryView,
    IngredientView,
)
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.db.models import Formula, FormulaLine, TrainingRun
from fragrance_ai.db.repositories import read_formula_document, save_designed_formula
from fragrance_ai.domain.catalogue import Tier
from fragrance_ai.domain.designer import RuleBasedDesigner
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.runtime import Runtime, build_runtime, install_runtime
from tests.conftest import make_settings

BRIEFS = (
    "fresh citrus cologne for summer with a woody base",
    "a warm amber vanilla evening perfume",
    "green tea and fig, light and airy",
)
INGREDIENT_QUERIES: list[dict[str, str]] = [
    {},
    {"view": "summary"},
    {"tier": "top"},
    {"family": "citrus"},
    {"q": "woody", "view": "summary"},
    {"q": "rose"},
    {"tier": "base", "family": "woody", "view": "summary"},
    {"q": "no material is called this"},
]


def store_formulas(runtime: Runtime, count_per_brief: int = 2) -> list[str]:
    """Formulas designed by rule from a few briefs; half of them carry search scores."""
    parser = DeterministicBriefParser(runtime.catalogue)
    designer = RuleBasedDesigner(runtime.catalogue)
    ids: list[str] = []
    with runtime.sessions() as session:
        for index, brief in enumerate(BRIEFS):
            for designed in designer.design(parser.parse(brief), count=count_per_brief):
                scored = index % 2 == 0
                row = save_designed_formula(
                    session,
                    designed,
                    designer="rule_based",
                    brief_id=None,
                    job_id=None,
                    scores={"brief_fit": 0.8125, "novelty": 1 / 3} if scored else None,
                    search={"mode": "balanced", "seed": 7, "generation": 3} if scored else None,
                )
                ids.append(str(row.id))
        session.commit()
    return ids


def reference_app(runtime: Runtime) -> FastAPI:
    """The read routes as they were before they were served from rendered JSON: whatever
    FastAPI itself writes for these response models is what the cached answers must be."""
    app = FastAPI()

    @app.get("/v1/formulas/{formula_id}", response_model=FormulaView)
    async def read_formula(formula_id: uuid.UUID) -> FormulaView:
        with runtime.sessions() as session:
            document = read_formula_document(session, formula_id)
        assert document is not None
        return formula_view(document, runtime.catalogue)

    @app.get("/v1/ingredients", response_model=list[IngredientView] | list[IngredientSummaryView])
    async def read_ingredients(
        tier: Tier | None = None,
        family: str | None = None,
        q: str | None = None,
        view: str = "full",
    ) -> list[IngredientView] | list[IngredientSummaryView]:
        items = runtime.catalogue.filter(tier=tier, family=family, text=q)
        if view == "summary":
            return [summary_view(item) for item in items]
        return [ingredient_view(item) for item in items]

    @app.get("/v1/ingredients/{cas}", response_model=IngredientView)
    async def read_ingredient(cas: str) -> IngredientView:
        return ingredient_view(runtime.catalogue.by_cas(cas))

    return app


@pytest.fixture
def formula_ids(runtime: Runtime) -> list[str]:
    return store_formulas(runtime)


@pytest.fixture
def reference(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(reference_app(runtime)) as client:
        yield client


def strong_tag_of(body: bytes) -> str:
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


# ---------------------------------------------------------------- rendered bytes


def test_formulas_are_the_bytes_fastapi_renders_first_read_and_cached(
    client: TestClient, reference: TestClient, formula_ids: list[str]
) -> None:
    assert len(formula_ids) == 6
    for formula_id in formula_ids:
        expected = reference.get(f"/v1/formulas/{formula_id}")
        first = client.get(f"/v1/formulas/{formula_id}")
        again = client.get(f"/v1/formulas/{formula_id}")
        assert first.status_code == again.status_code == 200
        assert first.content == expected.content
        assert again.content == expected.content
        assert first.headers["content-type"] == expected.headers["content-type"]


@pytest.mark.parametrize("params", INGREDIENT_QUERIES)
def test_ingredient_lists_are_the_bytes_fastapi_renders(
    client: TestClient, reference: TestClient, params: dict[str, str]
) -> None:
    expected = reference.get("/v1/ingredients", params=params)
    for _ in range(2):  # rendered, then from the store
        answer = client.get("/v1/ingredients", params=params)
        assert answer.status_code == 200
        assert answer.content == expected.content
        assert answer.headers["content-type"] == expected.headers["content-type"]


def test_an_ingredient_is_the_bytes_fastapi_renders(
    client: TestClient, reference: TestClient
) -> None:
    for cas in ("8007-75-8", "121-33-5", "54464-57-2"):
        assert client.get(f"/v1/ingredients/{cas}").content == (
            reference.get(f"/v1/ingredients/{cas}").content
        )


def test_limit_and_offset_slice_the_catalogue_in_its_order(client: TestClient) -> None:
    everything = client.get("/v1/ingredients", params={"view": "summary"}).json()
    page = client.get("/v1/ingredients", params={"view": "summary", "limit": 50}).json()
    assert page == everything[:50]
    later = client.get("/v1/ingredients", params={"view": "summary", "limit": 7, "offset": 50})
    assert later.json() == everything[50:57]
    beyond = client.get("/v1/ingredients", params={"offset": 10_000})
    assert beyond.status_code == 200
    assert beyond.json() == []


def test_a_stored_formula_is_answered_from_memory_after_its_first_read(
    client: TestClient, runtime: Runtime, formula_ids: list[str]
) -> None:
    formula_id = formula_ids[0]
    first = client.get(f"/v1/formulas/{formula_id}")
    with runtime.sessions() as session:
        session.execute(delete(FormulaLine).where(FormulaLine.formula_id == uuid.UUID(formula_id)))
        session.execute(delete(Formula).where(Formula.id == uuid.UUID(formula_id)))
        session.commit()
    again = client.get(f"/v1/formulas/{formula_id}")
    assert again.status_code == 200
    assert again.content == first.content
    # Another id was never read: the database answers, and it is not there.
    missing = client.get(f"/v1/formulas/{uuid.uuid4()}")
    assert missing.status_code == 404


# ---------------------------------------------------------------- validators


def conditional_targets(formula_id: str) -> list[tuple[str, dict[str, str | int]]]:
    return [
        (f"/v1/formulas/{formula_id}", {}),
        ("/v1/ingredients", {"limit": 50}),
        ("/v1/ingredients", {"q": "woody", "view": "summary"}),
        ("/v1/ingredients/8007-75-8", {}),
    ]


def test_etags_are_strong_hashes_of_the_body_and_stable(
    client: TestClient, formula_ids: list[str]
) -> None:
    for path, params in conditional_targets(formula_ids[0]):
        first = client.get(path, params=params)
        second = client.get(path, params=params)
        assert first.headers["etag"] == strong_tag_of(first.content), path
        assert second.headers["etag"] == first.headers["etag"], path
    # Different bodies, different tags.
    tags = {client.get(f"/v1/formulas/{i}").headers["etag"] for i in formula_ids}
    assert len(tags) == len(formula_ids)


@pytest.mark.parametrize(
    "header",
    [
        "{tag}",
        "W/{tag}",
        '"0123", {tag}',
        '"0123",{tag} , "4567"',
        "*",
        ' "a,b", {tag}',
    ],
)
def test_a_matching_if_none_match_answers_304_without_a_body(
    client: TestClient, formula_ids: list[str], header: str
) -> None:
    for path, params in conditional_targets(formula_ids[0]):
        full = client.get(path, params=params)
        tag = full.headers["etag"]
        answer = client.get(path, params=params, headers={"If-None-Match": header.format(tag=tag)})
        assert answer.status_code == 304, (path, header)
        assert answer.content == b""
        assert answer.headers["etag"] == tag
        assert answer.headers["cache-control"] == full.headers["cache-control"]


@pytest.mark.parametrize(
    "header",
    ['"0123456789abcdef"', 'W/"other"', "{bare}", '"{bare}x"', "", '"a", "b"'],
)
def test_another_tag_or_a_malformed_header_gets_the_full_answer(
    client: TestClient, formula_ids: list[str], header: str
) -> None:
    for path, params in conditional_targets(formula_ids[0]):
        full = client.get(path, params=params)
        bare = full.headers["etag"].strip('"')
        answer = client.get(
            path, params=params, headers={"If-None-Match": header.format(bare=bare)}
        )
        assert answer.status_code == 200, (path, header)
        assert answer.content == full.content


def test_formulas_are_cached_as_immutable_and_the_catalogue_revalidated(
    client: TestClient, formula_ids: list[str]
) -> None:
    formula = client.get(f"/v1/formulas/{formula_ids[0]}")
    assert formula.headers["cache-control"] == "private, max-age=86400, immutable"
    for path in ("/v1/ingredients", "/v1/ingredients/8007-75-8"):
        assert client.get(path).headers["cache-control"] == "private, max-age=300, must-revalidate"


def test_none_match_follows_rfc_9110() -> None:
    tag = '"abc"'
    assert none_match('"abc"', tag)
    assert none_match('W/"abc"', tag)
    assert none_match('"x", W/"abc"', tag)
    assert none_match(" * ", tag)
    assert not none_match('"abcd"', tag)
    assert not none_match("abc", tag)
    assert not none_match('"x", *', tag)  # `*` alone or not at all
    assert not none_match("", tag)


def test_the_store_keeps_the_most_recently_used_within_its_bounds() -> None:
    store: RenderedStore[int] = RenderedStore(max_entries=3, max_bytes=10)
    bodies: dict[int, Rendered] = {n: rendered(b"x" * n, "") for n in range(1, 12)}
    store.put(1, bodies[1])
    store.put(2, bodies[2])
    store.put(3, bodies[3])
    assert store.get(1) is bodies[1]  # 1 is now the most recent
    store.put(4, bodies[4])  # 1 + 2 + 3 + 4 = 10 bytes, but 4 entries: 2 goes
    assert store.get(2) is None
    assert [key for key in (1, 3, 4) if store.get(key)] == [1, 3, 4]
    store.put(5, bodies[5])  # over 10 bytes: the least recent go until it fits
    assert store.bytes <= 10
    assert len(store) <= 3
    assert store.get(5) is bodies[5]
    store.put(11, bodies[11])  # larger than the whole store: not kept, nothing evicted
    assert store.get(11) is None
    assert store.get(5) is bodies[5]


# ---------------------------------------------------------------- OpenAPI


def test_the_openapi_of_cached_routes_is_unchanged_but_for_validators(
    client: TestClient, reference: TestClient
) -> None:
    served = client.get("/openapi.json").json()
    original = reference.get("/openapi.json").json()
    for path in ("/v1/formulas/{formula_id}", "/v1/ingredients", "/v1/ingredients/{cas}"):
        now, before = served["paths"][path]["get"], original["paths"][path]["get"]
        assert now["responses"]["200"]["content"] == before["responses"]["200"]["content"]
        assert set(now["responses"]["200"]["headers"]) == {"ETag", "Cache-Control"}
        assert "304" in now["responses"]
        for parameter in before["parameters"]:
            named = [p for p in now["parameters"] if p["name"] == parameter["name"]]
            assert named, (path, parameter["name"])
            assert named[0]["in"] == parameter["in"]
    for name in ("FormulaView", "IngredientView", "IngredientSummaryView"):
        assert served["components"]["schemas"][name] == original["components"]["schemas"][name]


# ---------------------------------------------------------------- keyset pagination


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    """A migrated runtime on SQLite, or on a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        settings = make_settings(tmp_path)
    else:
        url = request.getfixturevalue("postgres_url")
        settings = make_settings(tmp_path, database_url=url)
    runtime = build_runtime(settings)
    upgrade_to_head(runtime.engine)
    yield runtime
    runtime.close()
    install_runtime(None)


@pytest.fixture
def backend_client(backend: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(backend)) as client:
        yield client


def add_formula(runtime: Runtime, created_at: datetime | None = None) -> str:
    """One stored formula; `created_at` pins its time (rows that tie on it)."""
    parser = DeterministicBriefParser(runtime.catalogue)
    designed = RuleBasedDesigner(runtime.catalogue).design(parser.parse(BRIEFS[0]))[0]
    with runtime.sessions() as session:
        row = save_designed_formula(
            session, designed, designer="rule_based", brief_id=None, job_id=None
        )
        if created_at is not None:
            row.created_at = created_at
        session.commit()
        return str(row.id)


def add_training_run(runtime: Runtime, created_at: datetime | None = None) -> str:
    with runtime.sessions() as session:
        run = TrainingRun(status="finished", trigger="manual", seed=1, config={})
        if created_at is not None:
            run.created_at = created_at
        session.add(run)
        session.commit()
        return str(run.id)


ListAdder = Any


def walk(
    client: TestClient, path: str, *, limit: int, between_pages: ListAdder
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get(path, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= limit
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
        between_pages()
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize(
    ("path", "add"),
    [("/v1/formulas", add_formula), ("/v1/training-runs", add_training_run)],
    ids=["formulas", "training-runs"],
)
def test_a_cursor_walk_sees_every_row_once_while_rows_are_inserted(
    backend: Runtime, backend_client: TestClient, path: str, add: Any
) -> None:
    tied = datetime.now(UTC).replace(microsecond=250_000) - timedelta(minutes=5)
    # Four rows share one instant: the id breaks the tie, across page boundaries too.
    existing = [add(backend, tied) for _ in range(4)]
    existing += [add(backend, tied - timedelta(seconds=n)) for n in range(1, 4)]
    existing += [add(backend) for _ in range(2)]
    inserted: list[str] = []
    walked = walk(
        backend_client, path, limit=2, between_pages=lambda: inserted.append(add(backend))
    )
    ids = [item["id"] for item in walked]
    assert sorted(ids) == sorted(existing)
    assert len(inserted) == 4  # pages of 2 over 9 rows: a row inserted before each later one
    order = [(item["created_at"], item["id"]) for item in walked]
    newest_first = sorted(order, key=lambda pair: pair[1])
    newest_first.sort(key=lambda pair: datetime.fromisoformat(pair[0]), reverse=True)
    assert order == newest_first
    # The first page of a new walk starts with what was inserted meanwhile.
    first = backend_client.get(path, params={"limit": 4}).json()
    assert {item["id"] for item in first["items"]} == set(inserted)
    assert first["total"] == len(existing) + len(inserted)


def test_the_last_page_has_no_next_cursor(client: TestClient, formula_ids: list[str]) -> None:
    page = client.get("/v1/formulas", params={"limit": len(formula_ids)}).json()
    assert len(page["items"]) == len(formula_ids)
    assert page["next_cursor"] is None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/v1/formulas", "/v1/training-runs"])
@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "@@@@",
        _b64("garbage"),
        _b64("2024-01-01T00:00:00+00:00|not-a-uuid"),
        _b64(f"yesterday|{uuid.uuid4()}"),
        _b64(f"2024-01-01T00:00:00|{uuid.uuid4()}"),  # no zone
        base64.urlsafe_b64encode(b"\xff\xfe|x").decode(),
        "A" * 201,
    ],
)
def test_a_malformed_cursor_is_a_422_naming_cursor(
    client: TestClient, path: str, cursor: str
) -> None:
    answer = client.get(path, params={"cursor": cursor})
    assert answer.status_code == 422, answer.text
    assert [error["loc"] for error in answer.json()["detail"]] == [["query", "cursor"]]


@pytest.mark.parametrize("path", ["/v1/formulas", "/v1/training-runs", "/v1/ingredients"])
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", 10**30),
        ("limit", 2**63),
        ("limit", 0),
        ("limit", -1),
        ("limit", 1001),
        ("offset", 10**30),
        ("offset", 2**63),
        ("offset", 10_001),
        ("offset", -1),
    ],
)
def test_a_limit_or_offset_no_database_takes_is_a_422_naming_it(
    client: TestClient, path: str, name: str, value: int
) -> None:
    answer = client.get(path, params={name: value})
    assert answer.status_code == 422, answer.text
    assert [error["loc"] for error in answer.json()["detail"]] == [["query", name]]


def test_offset_still_pages_for_old_clients_but_not_with_a_cursor(
    client: TestClient, formula_ids: list[str]
) -> None:
    first = client.get("/v1/formulas", params={"limit": 2}).json()
    rest = client.get("/v1/formulas", params={"limit": 100, "offset": 2}).json()
    assert [item["id"] for item in first["items"] + rest["items"]] == [
        item["id"] for item in client.get("/v1/formulas", params={"limit": 100}).json()["items"]
    ]
    both = client.get("/v1/formulas", params={"cursor": first["next_cursor"], "offset": 2})
    assert both.status_code == 422
    assert [error["loc"] for error in both.json()["detail"]] == [["query", "offset"]]

"""The OpenAPI document tells the truth about the API.

schemathesis runs every check in every phase (examples, coverage, fuzzing, and the stateful
phase that chains calls through the document's links) against a live uvicorn serving the
app on the development profile (SQLite, the in-process queue), with a fixed seed and budget;
any finding fails the test. The explicit tests below pin what a reader of the document
relies on most: 405 for a method a path does not serve, whitespace-only text refused by the
schema and the server alike, and the answers declared for representative routes.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from fragrance_ai.api.openapi.errors import IDEMPOTENCY_KEY_SCHEMA
from fragrance_ai.api.request_types import NOT_BLANK_PATTERN, WHITESPACE
from tests.helpers import free_port, wait_until_answering

# schemathesis and its validator are development tools (requirements-dev.in); the Nix
# package's unit tests run without them.
jsonschema_rs = pytest.importorskip("jsonschema_rs")

VENV_BIN = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parent.parent
# Fixed, so a finding reproduces: `st run ... --seed 20261202`.
SEED = 20261202
MAX_EXAMPLES = 25
# The whole run on 2 CI cores stays well under its share of the suite's time.
SCHEMATHESIS_TIMEOUT_S = 420

# Where the schema cannot say everything the server checks, schemathesis is told so, each
# with the reason; everything else a schema-valid request gets must be a success.
SCHEMATHESIS_CONFIG = """
# A CAS number's check digit, which a pattern cannot compute.
[[operations]]
include-name = "GET /v1/ingredients/{cas}"
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx",
]

# A perfumer's formula: percentages summing to 100, CAS check digits, a name matching its
# CAS, a dosage plausible for the product: checks across fields that JSON Schema cannot
# state, each answered by a 422 naming the line and field.
[[operations]]
include-name = [
    "POST /v1/formulas/check",
    "POST /v1/formulas/check/ifra-certificate",
    "POST /v1/formulas/check/allergen-declaration",
]
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx",
]

# A page cursor is opaque: only a next_cursor the API gave is one. A choice must name one
# of the formulas its question offered. Both are 422, as the routes declare.
[[operations]]
include-name = ["GET /v1/formulas", "GET /v1/training-runs", "POST /v1/feedback"]
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx",
]
"""


def _server_environment(data_dir: Path) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    environment.update(
        {
            "APP_ENV": "development",
            "DATA_DIR": str(data_dir),
            "LOG_LEVEL": "WARNING",
            # The development profile with the fast settings a contract run needs: briefs
            # read by the deterministic parser (no model loaded), a search of one short
            # generation, no retries of a failed job.
            "LLM__ROLES": '{"parser": {"model_path": null}, "validator": {"model_path": null},'
            ' "creative_hints": {"model_path": null}}',
            "QUEUE__RETRY_INTERVALS_S": "[]",
            **{
                f"OPTIMIZER__MODES__{mode}__{name}": value
                for mode in ("FAST", "BALANCED", "CREATIVE")
                for name, value in (("POPULATION", "8"), ("GENERATIONS", "1"))
            },
        }
    )
    return environment


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("contract")
    environment = _server_environment(data_dir)
    migrate = subprocess.run(
        [str(VENV_BIN / "fragrance-ai"), "migrate"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    port = free_port()
    log_path = data_dir / "uvicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                str(VENV_BIN / "uvicorn"),
                "fragrance_ai.api.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base_url, timeout=10) as client:
                wait_until_answering(client, server, "/ready")
            yield base_url
        finally:
            server.send_signal(signal.SIGTERM)
            returncode = server.wait(timeout=60)
    output = log_path.read_text(errors="replace")
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught.
    assert returncode == -signal.SIGTERM, output[-5000:]
    assert "Finished server process" in output, output[-5000:]
    # A job refused by its worker logs a traceback; a request never may.
    assert "Exception in ASGI application" not in output, output[-5000:]


@pytest.mark.e2e
def test_schemathesis_finds_nothing_in_any_phase(live_api: str, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    command = [
        str(VENV_BIN / "st"),
        "--config-file",
        str(config),
        "run",
        f"{live_api}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.contract_hooks",
        "PYTHONPATH": str(REPO_ROOT),
    }
    started = time.monotonic()
    run = subprocess.run(
        command,
        env=environment,
        capture_output=True,
        text=True,
        timeout=SCHEMATHESIS_TIMEOUT_S,
        check=False,
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - started
    cases = re.search(r"(\d+) generated", run.stdout)
    print(f"schemathesis: {cases.group(1) if cases else '?'} cases in {elapsed:.0f} s")
    print(" ".join(command))
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert cases is not None, run.stdout[-5000:]
    # A run that generated next to nothing proves nothing.
    assert int(cases.group(1)) >= 500, run.stdout[-5000:]
    assert "Stateful" in run.stdout


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        # A literal path that a parameter would also match: 405, not a 422 for the "id".
        ("GET", "/v1/formulas/check", "POST"),
        ("GET", "/v1/formulas/check/ifra-certificate", "POST"),
        # Two routes on one path: Allow names both.
        ("DELETE", "/v1/training-runs", "GET, POST"),
        ("PUT", "/v1/formulas/00000000-0000-4000-8000-000000000000", "GET"),
        ("HEAD", "/v1/policies", "GET"),
        ("POST", "/", "GET, HEAD"),
        ("POST", "/health", "GET"),
        ("DELETE", "/ready", "GET"),
        ("POST", "/static/css/workbench.css", "GET, HEAD"),
    ],
)
def test_a_method_a_path_does_not_serve_is_405_naming_those_it_does(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == allowed


def test_whitespace_is_what_python_strips() -> None:
    everything = (chr(code) for code in range(sys.maxunicode + 1))
    assert "".join(character for character in everything if character.isspace()) == WHITESPACE


@pytest.mark.parametrize("text", [" ", "\t\n", "\u3000\u00a0", "\x1c", " \u2028 \u205f "])
def test_whitespace_only_text_is_refused_by_the_schema_and_by_the_server(
    client: TestClient, text: str
) -> None:
    text_schema = _component(client, "BriefRequest")["properties"]["text"]
    assert text_schema["pattern"] == NOT_BLANK_PATTERN
    assert not jsonschema_rs.validator_for(text_schema).is_valid(text)
    response = client.post("/v1/briefs", json={"text": text})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "text"]
    # One visible character makes it a brief, for both.
    assert jsonschema_rs.validator_for(text_schema).is_valid(text + "x")


def test_words_of_a_corrected_brief_are_measured_as_sent_like_the_schema_says(
    client: TestClient,
) -> None:
    note_schema = _component(client, "BriefCorrection")["properties"]["notes"]["items"]
    padded = " " + "x" * note_schema["maxLength"]
    assert not jsonschema_rs.validator_for(note_schema).is_valid(padded)
    response = client.post("/v1/briefs", json={"text": "rose", "corrected": {"notes": [padded]}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "corrected", "notes", 0]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/briefs", {"text": "rose", "dosage_percent": True}),
        ("/v1/training-runs", {"total_updates": True}),
        (
            "/v1/feedback",
            {
                "brief_id": "00000000-0000-4000-8000-000000000000",
                "rating": True,
                "chosen_id": "00000000-0000-4000-8000-000000000000",
            },
        ),
    ],
)
def test_true_is_not_a_number(client: TestClient, path: str, body: dict[str, Any]) -> None:
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["msg"].endswith("must be a number, not a boolean")


@pytest.mark.parametrize(
    ("key", "accepted"),
    [
        ("3f8e2d1c-0b9a-4e7f-8a6b-5c4d3e2f1a0b", True),
        ('"a quoted key"', True),
        ("x" * 255, True),
        ("x" * 256, False),
        ('""', False),
        ("k\u00e9y", False),
    ],
)
def test_the_idempotency_key_schema_is_what_the_server_accepts(
    client: TestClient, key: str, accepted: bool
) -> None:
    assert jsonschema_rs.validator_for(IDEMPOTENCY_KEY_SCHEMA).is_valid(key) is accepted
    response = client.post(
        "/v1/policies/deactivate", headers={b"Idempotency-Key": key.encode("latin-1")}
    )
    assert (response.status_code != 400) is accepted, response.text


def test_every_answer_of_representative_routes_is_declared(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    submit = paths["/v1/briefs"]["post"]
    assert set(submit["responses"]) == {
        "202",
        "400",
        "401",
        "403",
        "404",
        "409",
        "413",
        "422",
        "429",
        "503",
    }
    assert submit["responses"]["202"]["headers"]["Location"]
    assert submit["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert submit["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert "Retry-After" in submit["responses"]["503"]["headers"]
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= next(
        p for p in submit["parameters"] if p["name"] == "Idempotency-Key"
    ).items()
    formula = paths["/v1/formulas/{formula_id}"]["get"]
    assert set(formula["responses"]) == {"200", "304", "401", "403", "404", "422", "429", "503"}
    assert "ETag" in formula["responses"]["200"]["headers"]
    assert not any(p["name"] == "Idempotency-Key" for p in formula["parameters"])
    # No path id, no 404; 503 still, as a presented API key is verified in the database.
    catalogue = paths["/v1/ingredients"]["get"]
    assert set(catalogue["responses"]) == {"200", "304", "401", "403", "422", "429", "503"}
    # Outside /v1: no keys, no limits.
    assert set(paths["/health"]["get"]["responses"]) == {"200"}
    assert set(paths["/ready"]["get"]["responses"]) == {"200", "503"}
    assert "security" not in paths["/health"]["get"]
    # Keys are optional on the development profile: a key, or none.
    assert submit["security"] == [{"bearerAuth": []}, {"apiKeyHeader": []}, {}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    problem = document["components"]["schemas"]["Problem"]
    assert problem["required"] == ["detail"]


def test_links_chain_a_brief_to_its_job_and_formulas(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    operation_ids = {
        operation["operationId"] for item in paths.values() for operation in item.values()
    }
    accepted = paths["/v1/briefs"]["post"]["responses"]["202"]["links"]
    assert accepted["ReadJob"]["parameters"] == {"job_id": "$response.body#/job_id"}
    job = paths["/v1/jobs/{job_id}"]["get"]["responses"]["200"]["links"]
    assert job["ReadFirstFormula"]["parameters"] == {
        "formula_id": "$response.body#/result/formula_ids/0"
    }
    every_link = [
        link
        for item in paths.values()
        for operation in item.values()
        for response in operation["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(every_link) >= 20
    assert {link["operationId"] for link in every_link} <= operation_ids


def _component(client: TestClient, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = client.get("/openapi.json").json()["components"]["schemas"][name]
    return schema

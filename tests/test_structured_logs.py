"""Logs: one JSON object a line in staging and production, readable lines in development, and
every line logged for a request or a job carrying its id."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fragrance_ai.platform.logs import ContextFilter, JsonFormatter, job_context, log_format_of
from fragrance_ai.settings import AppEnv
from tests.conftest import make_settings
from tests.helpers import free_port, wait_for_job, wait_until_answering

STOP_TIMEOUT_S = 60


@pytest.mark.parametrize(
    ("app_env", "explicit", "expected"),
    [
        (AppEnv.DEVELOPMENT, None, "console"),
        (AppEnv.STAGING, None, "json"),
        (AppEnv.PRODUCTION, None, "json"),
        (AppEnv.PRODUCTION, "console", "console"),
        (AppEnv.DEVELOPMENT, "json", "json"),
    ],
)
def test_the_profile_picks_the_log_format_unless_log_format_says(
    tmp_path: Path, app_env: AppEnv, explicit: str | None, expected: str
) -> None:
    settings = make_settings(tmp_path, app_env=app_env, log_format=explicit)
    assert log_format_of(settings) == expected


def _formatted(record: logging.LogRecord) -> dict[str, Any]:
    ContextFilter().filter(record)
    entry: dict[str, Any] = json.loads(JsonFormatter().format(record))
    return entry


def test_a_json_line_has_utc_time_level_logger_message_ids_and_the_exception() -> None:
    try:
        raise ValueError("no such material")
    except ValueError:
        exc_info = sys.exc_info()
    with job_context("job-7"):
        record = logging.LogRecord(
            "fragrance_ai.jobs", logging.ERROR, __file__, 1, "step %s failed", ("x",), exc_info
        )
        entry = _formatted(record)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "fragrance_ai.jobs"
    assert entry["message"] == "step x failed"
    assert entry["job_id"] == "job-7"
    assert "request_id" not in entry  # none was set
    assert "ValueError: no such material" in entry["exception"]
    assert datetime.fromisoformat(entry["time"]).utcoffset() == timedelta(0)
    # Outside the job, its id is gone.
    after = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    assert "job_id" not in _formatted(after)


def _json_lines(log: Path) -> list[dict[str, Any]]:
    """Every line of the log, each of which must be one JSON object."""
    entries = []
    for line in log.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}\n{log.read_text()}")
    return entries


def test_serve_in_staging_logs_json_with_the_request_id_and_the_job_id(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "APP_ENV": "staging",
        # Staging as configured, but on the embedded database and the in-process queue.
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "DATA_DIR": str(tmp_path),
        "API_PORT": str(free_port()),
        "LOG_LEVEL": "INFO",
        "SECURITY__REQUIRE_API_KEYS": "false",
    }
    command = [sys.executable, "-m", "fragrance_ai.cli"]
    migrated = subprocess.run(
        [*command, "migrate"], env=environment, capture_output=True, timeout=120, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "serve"], env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{environment['API_PORT']}", timeout=30
        ) as client:
            wait_until_answering(client, process, "/health")
            traced = client.get("/ready", headers={"X-Request-ID": "abc-123"})
            assert traced.headers["X-Request-ID"] == "abc-123"
            # An id that could forge or flood a log line is replaced, not echoed.
            forged = client.get("/ready", headers={"X-Request-ID": "a" * 129})
            assert len(forged.headers["X-Request-ID"]) == 32
            untraced = client.get("/ready")
            assert len(untraced.headers["X-Request-ID"]) == 32
            # A corrected brief is designed without reading the text: no model to load.
            accepted = client.post(
                "/v1/briefs",
                json={"text": "woody", "mode": "fast", "corrected": {"families": ["woody"]}},
            )
            assert accepted.status_code == 202, accepted.text
            job_id = accepted.json()["job_id"]
            assert wait_for_job(client, job_id, timeout_s=120)["status"] == "finished"
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=STOP_TIMEOUT_S)
    assert returncode == 0, log.read_text()

    entries = _json_lines(log)
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
    access = [entry for entry in entries if entry["logger"] == "uvicorn.access"]
    assert access, "uvicorn's access lines go through the same handler"
    # Every request's lines carry its id; the traced request's carry the caller's.
    assert all(entry.get("request_id") for entry in access), access
    traced_lines = [entry for entry in entries if entry.get("request_id") == "abc-123"]
    assert any("GET /ready" in entry["message"] for entry in traced_lines), traced_lines
    # /ready reads the schema's revision on every call: alembic's preamble is not repeated.
    assert not any(entry["logger"].startswith("alembic") for entry in traced_lines), traced_lines
    job_lines = [entry for entry in entries if entry.get("job_id") == job_id]
    messages = [entry["message"] for entry in job_lines]
    assert any(message.startswith("step design_formulas started") for message in messages)
    assert any(message.startswith("step design_formulas done") for message in messages)

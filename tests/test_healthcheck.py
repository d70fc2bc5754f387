from __future__ import annotations

from pathlib import Path

import pytest

from fragrance_ai.cli.main import main
from tests.helpers import free_port


def test_an_api_that_does_not_answer_is_unhealthy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{free_port()}/health"
    assert main(["healthcheck", "api", "--url", url]) == 1
    assert capsys.readouterr().out.startswith(f"unhealthy: {url}")


def test_a_worker_without_redis_is_unhealthy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert main(["healthcheck", "worker", "rl"]) == 1
    assert "REDIS_URL is not set" in capsys.readouterr().out


def test_no_live_worker_on_redis_is_unhealthy(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert main(["healthcheck", "worker", "llm"]) == 1
    assert "no live llm worker on llm_inference" in capsys.readouterr().out


def test_a_worker_check_needs_a_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["healthcheck", "worker"]) == 2
    assert "needs a kind" in capsys.readouterr().err


def test_a_malformed_url_is_unhealthy_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["healthcheck", "api", "--url", "http://127.0.0.1:80health"]) == 1
    assert capsys.readouterr().out.startswith("unhealthy: ")

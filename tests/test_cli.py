from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from fragrance_ai.cli.main import main
from fragrance_ai.db.migrate import current_revision, head_revision


def test_migrate_creates_the_sqlite_database_under_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert main(["migrate"]) == 0
    assert main(["migrate"]) == 0  # idempotent
    database = tmp_path / "fragrance-ai.sqlite3"
    assert database.exists()
    engine = create_engine(f"sqlite:///{database}")
    assert current_revision(engine) == head_revision()
    engine.dispose()
    assert f"is at revision {head_revision()}" in capsys.readouterr().out


def test_a_worker_without_redis_explains_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert main(["worker", "llm"]) == 2
    assert "REDIS_URL: a standalone worker needs Redis" in capsys.readouterr().err


def test_an_unknown_worker_kind_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["worker", "gpu"])
    assert exited.value.code == 2
    assert "invalid choice: 'gpu'" in capsys.readouterr().err

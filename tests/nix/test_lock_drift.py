"""checks.<system>.lock-drift: the Nix side lists the lock's pins (evaluated here without
nixpkgs) and nix/lock_drift.py judges them against nixpkgs' versions."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.nix.helpers import ROOT, nix_eval


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock_drift", ROOT / "nix" / "lock_drift.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


lock_drift = _load_script()


def _pins_in_lock() -> dict[str, str]:
    lock = (ROOT / "requirements-lock.txt").read_text()
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", lock, re.MULTILINE)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins}


def test_nix_reads_every_pin_of_the_lock() -> None:
    rows = nix_eval(
        "import ./nix/lock-versions.nix { lockText = builtins.readFile ./requirements-lock.txt; }"
    )
    assert {row["name"]: row["locked"] for row in rows} == _pins_in_lock()
    attrs = {row["name"]: row["attr"] for row in rows}
    assert attrs["torch"] == "torch"
    assert attrs["psycopg-binary"] == "psycopg"  # built from source into nixpkgs' psycopg


def _rows(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows))
    return path


def test_drift_is_reported_but_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _rows(
        tmp_path,
        [
            {"name": "torch", "attr": "torch", "locked": "2.13.0+cpu", "nixpkgs": "2.13.0"},
            {"name": "rq", "attr": "rq", "locked": "3.0.0", "nixpkgs": "2.6.1"},
        ],
    )
    assert lock_drift.main(["lock_drift.py", str(path), str(_lock(tmp_path))]) == 0
    output = capsys.readouterr().out
    assert re.search(r"^torch\s+2\.13\.0\+cpu\s+2\.13\.0\s+same$", output, re.M)
    assert re.search(r"^rq\s+3\.0\.0\s+2\.6\.1\s+drift$", output, re.M)
    assert "2 locked packages: 1 same, 1 drifted, 0 missing from nixpkgs" in output


def test_a_package_missing_from_nixpkgs_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _rows(
        tmp_path,
        [
            {"name": "fastapi", "attr": "fastapi", "locked": "0.1", "nixpkgs": "0.1"},
            {"name": "httpx2", "attr": "httpx2", "locked": "2.16.2", "nixpkgs": None},
        ],
    )
    assert lock_drift.main(["lock_drift.py", str(path), str(_lock(tmp_path))]) == 1
    output = capsys.readouterr().out
    assert output.splitlines()[1].startswith("httpx2")  # missing ones first
    assert "1 missing from nixpkgs (httpx2)" in output


def test_a_transitive_package_missing_from_nixpkgs_is_reported_but_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _rows(
        tmp_path,
        [
            {"name": "fastapi", "attr": "fastapi", "locked": "0.1", "nixpkgs": "0.1"},
            {"name": "hf-xet", "attr": "hf-xet", "locked": "1.8.0", "nixpkgs": None},
        ],
    )
    assert lock_drift.main(["lock_drift.py", str(path), str(_lock(tmp_path))]) == 0
    output = capsys.readouterr().out
    assert re.search(r"^hf-xet\s+1\.8\.0\s+-\s+missing \(transitive\)$", output, re.M)
    assert "0 missing from nixpkgs, 1 transitive not in nixpkgs (hf-xet)" in output


def test_the_real_lock_marks_its_direct_dependencies() -> None:
    direct = lock_drift.direct_dependencies((ROOT / "requirements-lock.txt").read_text())
    assert {"fastapi", "rq", "torch", "transformers", "deap", "psycopg"} <= direct
    assert "hf-xet" not in direct
    assert "starlette" not in direct


def _lock(tmp_path: Path) -> Path:
    """A lock in pip-compile's layout: fastapi and httpx2 direct, hf-xet transitive."""
    path = tmp_path / "requirements-lock.txt"
    path.write_text(
        "fastapi==0.1 \\\n    --hash=sha256:00\n    # via fragrance-ai (pyproject.toml)\n"
        "hf-xet==1.8.0 \\\n    --hash=sha256:00\n    # via huggingface-hub\n"
        "httpx2==2.16.2 \\\n    --hash=sha256:00\n    # via\n"
        "    #   fragrance-ai (pyproject.toml)\n    #   huggingface-hub\n"
    )
    return path

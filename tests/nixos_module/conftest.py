"""Evaluates modules/fragrance-ai/ offline with nixpkgs' lib (tests/nixos_module/eval.nix).

NIXPKGS_LIB names the directory holding nixpkgs' `lib/default.nix` (an unpacked
nix-community/nixpkgs.lib checkout's `lib/`, kept outside this repository). Without it, or
without `nix-instantiate`, these tests skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pytest

EVAL_NIX = Path(__file__).with_name("eval.nix")


def nixpkgs_lib() -> str:
    directory = os.environ.get("NIXPKGS_LIB", "")
    if not directory:
        pytest.skip("NIXPKGS_LIB is not set (the directory of nixpkgs' lib/default.nix)")
    if not (Path(directory) / "default.nix").is_file():
        pytest.skip(f"NIXPKGS_LIB={directory} holds no default.nix")
    if shutil.which("nix-instantiate") is None:
        pytest.skip("nix-instantiate is not installed")
    return str(Path(directory).resolve())


def eval_expression(expression: str) -> Any:
    """The JSON value of a Nix expression that uses nixpkgs' lib (skips without it)."""
    nixpkgs_lib()
    result = subprocess.run(
        ["nix-instantiate", "--eval", "--strict", "--json", "--expr", expression],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


class EvaluationError(Exception):
    """The module refused the configuration: a type error or a failed evaluation."""


def _run(config: str) -> dict[str, Any]:
    result = subprocess.run(
        [
            "nix-instantiate",
            "--eval",
            "--strict",
            "--json",
            # The scripts units run (eval.nix's writeShellScript) are written to the store, so
            # that a test can run them.
            "--read-write-mode",
            str(EVAL_NIX),
            "--argstr",
            "nixpkgsLib",
            nixpkgs_lib(),
            "--arg",
            "userConfig",
            config,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise EvaluationError(result.stderr)
    evaluated: dict[str, Any] = json.loads(result.stdout)
    return evaluated


class Evaluate(Protocol):
    def __call__(self, options: str = "") -> dict[str, Any]: ...


EvaluateRaw = Callable[[str], dict[str, Any]]


@pytest.fixture
def evaluate() -> Evaluate:
    """Evaluates `services.fragrance-ai = { enable = true; <options> };` and fails on a failed
    assertion; `evaluate_raw` gives the raw result instead."""

    def run(options: str = "") -> dict[str, Any]:
        evaluated = _run(f"{{ services.fragrance-ai = {{ enable = true; {options} }}; }}")
        assert evaluated["assertions"] == [], evaluated["assertions"]
        return evaluated

    return run


@pytest.fixture
def evaluate_raw() -> EvaluateRaw:
    """Evaluates a whole module (a Nix expression) next to ours."""
    return _run

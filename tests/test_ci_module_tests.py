""".ci/module_tests.py: the one line .ci/run prints on the NixOS module tests, read from the
JUnit report of a real pytest run on a small suite laid out like ours."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = ROOT / ".ci" / "module_tests.py"

MODULE_TESTS = """
import pytest

def test_passes():
    pass

def test_fails():
    assert False

def test_skips():
    pytest.skip("not today")
"""
ALL_SKIPPED = """
import pytest

@pytest.fixture(autouse=True)
def _needs_lib():
    pytest.skip("NIXPKGS_LIB is not set")

def test_one():
    pass

def test_two():
    pass
"""
OTHER_TESTS = "def test_elsewhere():\n    pass\n"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, check=False, cwd=cwd
    )


def _summary_of_a_run(tmp_path: Path, module_tests: str) -> str:
    for directory in (tmp_path / "tests", tmp_path / "tests" / "nixos_module"):
        directory.mkdir(exist_ok=True)
        (directory / "__init__.py").write_text("")
    (tmp_path / "tests" / "nixos_module" / "test_module.py").write_text(module_tests)
    (tmp_path / "tests" / "test_other.py").write_text(OTHER_TESTS)
    junit = tmp_path / "junit.xml"
    tests = _run(
        "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", "tests", cwd=tmp_path
    )
    assert tests.returncode in (0, 1), tests.stdout + tests.stderr
    completed = _run(str(SUMMARY), str(junit), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_it_counts_the_module_tests_that_ran_and_only_those(tmp_path: Path) -> None:
    assert _summary_of_a_run(tmp_path, MODULE_TESTS) == (
        "NixOS module tests: 2 ran (1 passed, 1 failed, 1 skipped)\n"
    )


def test_when_none_ran_it_says_why(tmp_path: Path) -> None:
    assert _summary_of_a_run(tmp_path, ALL_SKIPPED) == (
        "NixOS module tests: none ran (NIXPKGS_LIB is not set)\n"
    )


def test_without_a_report_it_says_the_checks_stopped_first(tmp_path: Path) -> None:
    empty = tmp_path / "junit.xml"
    empty.touch()
    completed = _run(str(SUMMARY), str(empty), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "NixOS module tests: none ran (the checks stopped before pytest)\n"

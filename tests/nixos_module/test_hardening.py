"""The evaluated units, rendered as NixOS renders them, scored by `systemd-analyze security
--offline=yes`: exposure at most 2.0 for the migration, the API and CPU workers, 3.0 for GPU
workers (every replica, each with its own GPUs)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.nixos_module.conftest import Evaluate

TARGETS = {
    "fragrance-ai-migrate": 2.0,
    "fragrance-ai-api": 2.0,
    "fragrance-ai-worker-rl-1": 2.0,
    "fragrance-ai-worker-rl-2": 2.0,
    # gpu = true below: each replica with its own GPUs.
    "fragrance-ai-worker-llm-1": 3.0,
    "fragrance-ai-worker-llm-2": 3.0,
}
HOST = (
    'workers.llm = { gpu = true; replicas = 2; gpuDevices = [ "0" "1,2" ]; }; '
    "workers.rl.replicas = 2; api.workers = 2;"
)


def exposure(unit_file: Path) -> float:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Older systemd warns about keys it does not know (RestartSteps= is systemd 254+).
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    return float(found.group(1))


@pytest.fixture(scope="module")
def analyzer() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed")
    return path


@pytest.mark.usefixtures("analyzer")
def test_exposure_meets_the_targets(evaluate: Evaluate, tmp_path: Path) -> None:
    evaluated = evaluate(HOST)
    assert sorted(evaluated["services"]) == sorted(TARGETS)
    figures = {}
    for name, target in TARGETS.items():
        unit_file = tmp_path / f"{name}.service"
        unit_file.write_text(evaluated["services"][name]["unitFile"])
        figures[name] = exposure(unit_file)
        assert figures[name] <= target, (name, figures[name], target)
    print("systemd-analyze security exposure:", figures)


@pytest.mark.usefixtures("analyzer")
def test_the_gpu_exceptions_are_what_costs(evaluate: Evaluate, tmp_path: Path) -> None:
    evaluated = evaluate("workers.llm.gpu = true;")
    scores = {}
    for name in ("fragrance-ai-worker-rl-1", "fragrance-ai-worker-llm-1"):
        unit_file = tmp_path / f"{name}.service"
        unit_file.write_text(evaluated["services"][name]["unitFile"])
        scores[name] = exposure(unit_file)
    assert scores["fragrance-ai-worker-llm-1"] > scores["fragrance-ai-worker-rl-1"]

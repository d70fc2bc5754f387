"""nix/tests/nixos-vm.nix (the flake's nixosTest, which needs KVM to run) checked offline: its
shape, its Python test script, and its node's configuration through the module."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.nixos_module.conftest import EvaluateRaw, eval_expression

VM_TEST = Path(__file__).resolve().parents[2] / "nix" / "tests" / "nixos-vm.nix"
# runNixOSTest hands back its argument, so the test's definition can be inspected.
STUB_CALL = (
    f"import {VM_TEST} {{ "
    'pkgs = { testers.runNixOSTest = test: test; curl = "curl"; jq = "jq"; }; '
    "self = { nixosModules.default = { }; }; }"
)


def test_the_vm_test_drives_the_real_application() -> None:
    test = eval_expression(f"let t = {STUB_CALL}; in {{ inherit (t) name testScript; }}")
    assert isinstance(test, dict)
    assert test["name"] == "fragrance-ai-nixos-module"
    script = test["testScript"]
    ast.parse(script)  # the test driver runs it as Python
    for step in (
        'wait_for_unit("fragrance-ai.target"',
        "ExecMainExitTimestampMonotonic",
        "/v1/briefs",
        "/v1/formulas/",
        "kill -KILL",
        "fragrance-ai-manage keys create",
        "systemctl restart fragrance-ai-api.service",
        "NRestarts",
        "systemd-analyze security --threshold=20",
    ):
        assert step in script, step


def test_the_vm_node_imports_the_flake_module() -> None:
    imports = eval_expression(f"map (m: m == {{ }}) ({STUB_CALL}).nodes.machine.imports")
    assert imports == [True]


def test_the_vm_node_configuration_evaluates(evaluate_raw: EvaluateRaw) -> None:
    evaluated = evaluate_raw(f"({STUB_CALL}).nodes.machine")
    assert evaluated["assertions"] == []
    services = evaluated["services"]
    assert sorted(services) == [
        "fragrance-ai-api",
        "fragrance-ai-migrate",
        "fragrance-ai-worker-llm-1",
        "fragrance-ai-worker-rl-1",
    ]
    assert services["fragrance-ai-worker-llm-1"]["serviceConfig"]["MemoryMax"] == "1500M"
    assert evaluated["postgresql"]["enable"] is True

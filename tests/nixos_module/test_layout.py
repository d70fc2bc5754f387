"""The module's files: modules/fragrance-ai/default.nix imports every part, and the old path,
modules/fragrance-ai.nix, still works for hosts that import it (alone or beside the flake's
module, which imports the directory)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.nixos_module.conftest import EvaluateRaw

MODULES = Path(__file__).resolve().parents[2] / "modules"
DIRECTORY = MODULES / "fragrance-ai"
SHIM = MODULES / "fragrance-ai.nix"
# Plain values the modules import (`import ./common.nix { ... }`), not modules themselves.
NOT_MODULES = {"common.nix", "hardening.nix"}


def test_default_nix_imports_every_part_and_each_says_what_it_holds() -> None:
    imported = re.findall(r"\./([a-z-]+\.nix)", (DIRECTORY / "default.nix").read_text())
    parts = {path.name for path in DIRECTORY.glob("*.nix")} - {"default.nix"}
    assert imported[0] == "options.nix"  # a reader meets the options first
    assert set(imported) == parts - NOT_MODULES
    for path in DIRECTORY.glob("*.nix"):
        assert path.read_text().startswith("# "), f"{path.name}: no comment on what it holds"


def test_the_old_path_is_the_same_module(evaluate_raw: EvaluateRaw) -> None:
    options = "services.fragrance-ai = { enable = true; workers.llm.gpu = true; };"
    alone = evaluate_raw(f"{{ {options} }}")
    # eval.nix imports the directory; the old path beside it is the same module, imported once.
    both = evaluate_raw(f"{{ imports = [ {SHIM} ]; {options} }}")
    assert both == alone
    assert [package["name"] for package in both["systemPackages"]] == ["fragrance-ai-manage"]

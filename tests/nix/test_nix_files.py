"""Every .nix file in the repository parses, and the flake's outputs have the names users
build (`nix build .#worker-llm`), checked against a stand-in nixpkgs: Nix 2.8 here cannot
evaluate the real one, but the flake's own structure evaluates without it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.nix.helpers import ROOT, nix_eval, nix_files, nix_instantiate


def test_the_flake_and_its_nix_directory_exist() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in nix_files()}
    assert {"flake.nix", "nix/package.nix", "nix/image.nix", "nix/devshell.nix"} <= names


@pytest.mark.parametrize("path", nix_files(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_nix_file_parses(path: Path) -> None:
    completed = subprocess.run(
        [*nix_instantiate(), "--parse", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr


# flake.nix's outputs on the stand-in nixpkgs (tests/nix/stand-in-nixpkgs; the outputs
# themselves are evaluated in test_flake_evaluation.py): here only their names.
STUB_FLAKE = """
let
  flake = import ./flake.nix;
  nixpkgs = import ./tests/nix/stand-in-nixpkgs/flake-input.nix;
  outputs = flake.outputs { self = outputs // { rev = "0000000"; }; inherit nixpkgs; };
  names = builtins.mapAttrs (_: builtins.attrNames);
in
{
  packages = names outputs.packages;
  checks = names outputs.checks;
  devShells = names outputs.devShells;
  formatter = builtins.attrNames outputs.formatter;
  nixosModules = builtins.attrNames outputs.nixosModules;
  moduleIsAFunction = builtins.isFunction outputs.nixosModules.default;
  inputs = flake.inputs;
  outputArguments = builtins.functionArgs flake.outputs;
}
"""

IMAGES = {"api", "worker-llm", "worker-rl"}
CUDA_OUTPUTS = {"fragrance-ai-cuda", "worker-llm-cuda", "worker-rl-cuda"}


@pytest.fixture(scope="module")
def flake() -> dict[str, object]:
    value = nix_eval(STUB_FLAKE)
    assert isinstance(value, dict)
    return value


def test_packages_are_the_application_and_its_images(flake: dict[str, object]) -> None:
    packages = flake["packages"]
    assert isinstance(packages, dict)
    assert set(packages) == {"x86_64-linux", "aarch64-linux"}
    full = {"default", "fragrance-ai", "fragrance-ai-api"} | IMAGES
    assert set(packages["x86_64-linux"]) == full | CUDA_OUTPUTS
    # aarch64-linux: only what needs no torch (flake.nix says why).
    assert set(packages["aarch64-linux"]) == {"fragrance-ai-api", "api"}


def test_checks_dev_shell_formatter_and_module(flake: dict[str, object]) -> None:
    checks = flake["checks"]
    assert isinstance(checks, dict)
    api = {"package-api", "api-closure-has-no-torch", "image-contract", "lock-drift"}
    assert set(checks["x86_64-linux"]) == api | {"package", "nixos-vm"}  # VM tests need KVM
    assert set(checks["aarch64-linux"]) == api
    assert flake["devShells"] == {"x86_64-linux": ["default"]}
    assert flake["formatter"] == ["aarch64-linux", "x86_64-linux"]
    assert flake["nixosModules"] == ["default"]
    assert flake["moduleIsAFunction"] is True


def test_the_flake_has_one_input_nixpkgs_on_nixos_25_11(flake: dict[str, object]) -> None:
    assert flake["inputs"] == {"nixpkgs": {"url": "github:NixOS/nixpkgs/nixos-25.11"}}
    assert flake["outputArguments"] == {"self": False, "nixpkgs": False}

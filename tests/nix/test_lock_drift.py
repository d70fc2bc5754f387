"""One set of versions: nix/pins.json is what `lock_drift.py --write-pins` makes of the lock,
nix/lock-packages.nix builds exactly those versions from exactly the lock's files (evaluated
here without nixpkgs), and checks.<system>.lock-drift fails when a direct dependency's
major.minor differs between the lock and what Nix builds."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.nix.helpers import ROOT, nix_eval


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock_drift", ROOT / "nix" / "lock_drift.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


lock_drift = _load_script()
LOCK_TEXT = (ROOT / "requirements-lock.txt").read_text()


def _lock_entries() -> dict[str, tuple[str, set[str]]]:
    """name -> (version, sha256 hex digests), read with a regex independent of the script."""
    entries = {}
    for block in re.split(r"^(?=[A-Za-z0-9])", LOCK_TEXT, flags=re.MULTILINE):
        pin = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", block)
        if pin:
            name = re.sub(r"[-_.]+", "-", pin.group(1)).lower()
            entries[name] = (pin.group(2), set(re.findall(r"sha256:([0-9a-f]{64})", block)))
    return entries


def test_nix_reads_every_pin_of_the_lock() -> None:
    rows = nix_eval(
        "import ./nix/lock-versions.nix { lockText = builtins.readFile ./requirements-lock.txt; }"
    )
    assert {row["name"]: row["locked"] for row in rows} == {
        name: version for name, (version, _) in _lock_entries().items()
    }
    assert all(row["attr"] == row["name"] for row in rows)


def test_the_committed_pins_are_what_the_lock_generates(tmp_path: Path) -> None:
    pins = tmp_path / "pins.json"
    pins.write_text((ROOT / "nix" / "pins.json").read_text())
    assert lock_drift.main(["lock_drift.py", "--write-pins", "--offline", "--pins", str(pins)]) == 0
    assert pins.read_text() == (ROOT / "nix" / "pins.json").read_text()


def test_a_changed_lock_needs_its_pins_regenerated(tmp_path: Path) -> None:
    lock = tmp_path / "requirements-lock.txt"
    lock.write_text(LOCK_TEXT.replace("\nrq==3.0.0 ", "\nrq==3.1.0 "))
    pins = tmp_path / "pins.json"
    pins.write_text((ROOT / "nix" / "pins.json").read_text())
    arguments = ["lock_drift.py", "--write-pins", str(lock), "--offline", "--pins", str(pins)]
    assert lock_drift.main(arguments) == 1
    assert pins.read_text() == (ROOT / "nix" / "pins.json").read_text()  # left alone


# nix/lock-packages.nix against stand-ins that return their arguments.
LOCK_PACKAGES = """
let
  lib = {
    importJSON = path: builtins.fromJSON (builtins.readFile path);
    filterAttrs = pred: set: builtins.listToAttrs (builtins.filter (e: pred e.name e.value)
      (map (name: { inherit name; value = set.${name}; }) (builtins.attrNames set)));
    mapAttrs = builtins.mapAttrs;
    fix = f: let x = f x; in x;
    optionals = condition: list: if condition then list else [ ];
    platforms.all = [ "all" ];
  };
  packages = system: import ./nix/lock-packages.nix {
    inherit lib;
    stdenv = { hostPlatform = { inherit system; }; cc.cc.lib = "libstdc++"; };
    fetchurl = args: args;
    autoPatchelfHook = "autoPatchelfHook";
    python3Packages.buildPythonPackage = args: args;
  };
  summary = system: builtins.mapAttrs (name: p: {
    inherit (p) pname version format;
    inherit (p.src) url hash name;
    dependencies = map (d: d.pname) p.dependencies;
    patchelf = p.nativeBuildInputs != [ ];
  }) (packages system);
in
{ x86_64-linux = summary "x86_64-linux"; aarch64-linux = summary "aarch64-linux";
  python = (lib.importJSON ./nix/pins.json).python; }
"""


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    value = nix_eval(LOCK_PACKAGES)
    assert isinstance(value, dict)
    return value


def test_nix_builds_every_locked_package_at_the_locked_version(built: dict[str, Any]) -> None:
    packages = built["x86_64-linux"]
    entries = _lock_entries()
    assert set(packages) == set(entries)
    for name, package in packages.items():
        version, digests = entries[name]
        assert package["version"] == version, name
        assert package["format"] == "wheel", name
        digest = base64.b64decode(package["hash"].removeprefix("sha256-")).hex()
        assert digest in digests, name
        assert package["name"].endswith(".whl"), name
    assert packages["rq"]["version"] == "3.0.0"
    assert packages["torch"]["version"] == "2.13.0+cpu"
    assert packages["torch"]["name"] == "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert packages["torch"]["patchelf"] is True
    assert packages["rq"]["patchelf"] is False


def test_nix_wires_the_locks_dependency_graph(built: dict[str, Any]) -> None:
    packages = built["x86_64-linux"]
    assert set(packages["rq"]["dependencies"]) == {"click", "croniter", "redis"}
    assert "pydantic-core" in packages["pydantic"]["dependencies"]
    assert "starlette" in packages["fastapi"]["dependencies"]
    assert "psycopg-binary" in packages["psycopg"]["dependencies"]


def test_wheels_for_the_locks_python_and_each_system(built: dict[str, Any]) -> None:
    assert built["python"] == re.search(r"pip-compile with Python (\S+)", LOCK_TEXT).group(1)  # type: ignore[union-attr]
    # The lock hashes torch's CPU wheel for x86_64 only; everything else exists on both.
    assert set(built["x86_64-linux"]) - set(built["aarch64-linux"]) == {"torch"}
    assert "aarch64" in built["aarch64-linux"]["numpy"]["name"]
    assert "cp311" in built["x86_64-linux"]["numpy"]["name"]


# --- the drift check on constructed rows -------------------------------------------------


def _rows(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows))
    return path


def _check(tmp_path: Path, rows: list[dict[str, object]]) -> int:
    return int(lock_drift.main(["lock_drift.py", str(_rows(tmp_path, rows)), str(_lock(tmp_path))]))


def test_the_real_pins_pass(tmp_path: Path, built: dict[str, Any]) -> None:
    rows = [
        {
            "name": name,
            "attr": name,
            "locked": version,
            "nix": built["x86_64-linux"][name]["version"],
        }
        for name, (version, _) in _lock_entries().items()
    ]
    lock = tmp_path / "lock.txt"
    lock.write_text(LOCK_TEXT)
    assert lock_drift.main(["lock_drift.py", str(_rows(tmp_path, rows)), str(lock)]) == 0


def test_a_direct_dependency_on_another_minor_release_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows: list[dict[str, object]] = [
        {"name": "fastapi", "attr": "fastapi", "locked": "0.1.2", "nix": "0.1.0"},
        {"name": "httpx2", "attr": "httpx2", "locked": "3.0.0", "nix": "2.6.1"},
        {"name": "hf-xet", "attr": "hf-xet", "locked": "1.8.0", "nix": "1.2.0"},
    ]
    assert _check(tmp_path, rows) == 1
    output = capsys.readouterr().out
    assert output.splitlines()[1].startswith("httpx2")  # failures first
    assert re.search(r"^httpx2\s+3\.0\.0\s+2\.6\.1\s+drift$", output, re.M)
    assert re.search(r"^fastapi\s+0\.1\.2\s+0\.1\.0\s+patch$", output, re.M)
    assert re.search(r"^hf-xet\s+1\.8\.0\s+1\.2\.0\s+drift \(transitive\)$", output, re.M)
    assert "1 direct dependencies differ from the lock (httpx2)" in output


def test_patch_releases_and_transitive_drift_are_reported_but_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows: list[dict[str, object]] = [
        {"name": "fastapi", "attr": "fastapi", "locked": "0.1.2", "nix": "0.1.0"},
        {"name": "httpx2", "attr": "httpx2", "locked": "2.16.2+cpu", "nix": "2.16.2"},
        {"name": "hf-xet", "attr": "hf-xet", "locked": "1.8.0", "nix": None},
    ]
    assert _check(tmp_path, rows) == 0
    output = capsys.readouterr().out
    assert re.search(r"^httpx2\s+2\.16\.2\+cpu\s+2\.16\.2\s+same$", output, re.M)
    assert re.search(r"^hf-xet\s+1\.8\.0\s+-\s+missing \(transitive\)$", output, re.M)
    assert "0 direct dependencies differ from the lock" in output


def test_a_direct_dependency_nix_lacks_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows: list[dict[str, object]] = [
        {"name": "fastapi", "attr": "fastapi", "locked": "0.1", "nix": "0.1"},
        {"name": "httpx2", "attr": "httpx2", "locked": "2.16.2", "nix": None},
    ]
    assert _check(tmp_path, rows) == 1
    assert "(httpx2)" in capsys.readouterr().out


def test_the_real_lock_marks_its_direct_dependencies() -> None:
    direct = lock_drift.direct_dependencies(LOCK_TEXT)
    assert {"fastapi", "rq", "torch", "transformers", "deap", "psycopg"} <= direct
    assert "hf-xet" not in direct
    assert "starlette" not in direct


def _lock(tmp_path: Path) -> Path:
    """A lock in pip-compile's layout: fastapi and httpx2 direct, hf-xet transitive."""
    path = tmp_path / "requirements-lock.txt"
    path.write_text(
        "fastapi==0.1 \\\n    --hash=sha256:00\n    # via fragrance-ai (pyproject.toml)\n"
        "hf-xet==1.8.0 \\\n    --hash=sha256:00\n    # via huggingface-hub\n"
        "httpx2==2.16.2 \\\n    --hash=sha256:00\n    # via\n"
        "    #   fragrance-ai (pyproject.toml)\n    #   huggingface-hub\n"
    )
    return path

"""flake.lock pins exactly the nixpkgs the issue names (taken from a public lock file) and
exactly the inputs flake.nix declares."""

from __future__ import annotations

import json
from typing import Any

from tests.nix.helpers import ROOT, nix_eval

LOCK_PATH = ROOT / "flake.lock"
NIXPKGS_PIN = {
    "lastModified": 1768940263,
    "narHash": "sha256-sJERJIYTKPFXkoz/gBaBtRKke82h4DkX3BBSsKbfbvI=",
    "owner": "NixOS",
    "repo": "nixpkgs",
    "rev": "3ceaaa8bc963ced4d830e06ea2d0863b6490ff03",
    "type": "github",
}


def _lock() -> dict[str, Any]:
    lock = json.loads(LOCK_PATH.read_text())
    assert isinstance(lock, dict)
    return lock


def test_the_lock_is_version_7_with_a_root_node() -> None:
    lock = _lock()
    assert set(lock) == {"nodes", "root", "version"}
    assert lock["version"] == 7
    assert lock["root"] == "root"
    assert set(lock["nodes"]) == {"root", "nixpkgs"}


def test_the_lock_is_written_as_nix_writes_it() -> None:
    # Sorted keys, two-space indent, a final newline: `nix flake lock` leaves it unchanged.
    text = LOCK_PATH.read_text()
    assert text == json.dumps(_lock(), indent=2, sort_keys=True) + "\n"


def test_nixpkgs_is_pinned_to_the_nixos_25_11_revision() -> None:
    node = _lock()["nodes"]["nixpkgs"]
    assert node["locked"] == NIXPKGS_PIN
    assert node["original"] == {
        "owner": "NixOS",
        "ref": "nixos-25.11",
        "repo": "nixpkgs",
        "type": "github",
    }


def test_the_lock_pins_the_inputs_flake_nix_declares() -> None:
    lock = _lock()
    declared: dict[str, dict[str, str]] = nix_eval("(import ./flake.nix).inputs")
    root_inputs = lock["nodes"][lock["root"]]["inputs"]
    assert set(root_inputs) == set(declared)
    for name, spec in declared.items():
        node = lock["nodes"][root_inputs[name]]
        kind, owner, repo, ref = spec["url"].replace(":", "/", 1).split("/")
        assert kind == "github"
        assert node["original"] == {"owner": owner, "ref": ref, "repo": repo, "type": kind}
        assert {"lastModified", "narHash", "rev"} <= set(node["locked"])

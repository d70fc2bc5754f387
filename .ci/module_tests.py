"""Prints one line for .ci/run: how many NixOS module tests (tests/nixos_module) ran in the
run whose JUnit XML it is given, or why none did. They skip without nix-instantiate or
NIXPKGS_LIB, and a skip is easy to miss among thousands of passes.

usage: module_tests.py JUNIT_XML
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

MODULE_TESTS = "tests.nixos_module."


def summary(junit: Path) -> str:
    if not junit.is_file() or junit.stat().st_size == 0:
        return "NixOS module tests: none ran (the checks stopped before pytest)"
    cases = [
        case
        for case in ET.parse(junit).iter("testcase")
        if case.get("classname", "").startswith(MODULE_TESTS)
    ]
    skips = [skip for case in cases if (skip := case.find("skipped")) is not None]
    ran = [case for case in cases if case.find("skipped") is None]
    if not ran:
        reasons = sorted({skip.get("message", "no reason given") for skip in skips})
        why = "; ".join(reasons) if reasons else "none collected"
        return f"NixOS module tests: none ran ({why})"
    failed = sum(
        1 for case in ran if case.find("failure") is not None or case.find("error") is not None
    )
    line = f"NixOS module tests: {len(ran)} ran ({len(ran) - failed} passed, {failed} failed"
    return line + (f", {len(skips)} skipped)" if skips else ")")


if __name__ == "__main__":
    print(summary(Path(sys.argv[1])))

"""Compares requirements-lock.txt with the pinned nixpkgs (`checks.<system>.lock-drift`).

The input is a JSON list of rows {"name", "attr", "locked", "nixpkgs"} that the flake
builds while it evaluates: "nixpkgs" is the version of python3Packages.<attr>, or null when
nixpkgs has no such package. A different version is drift, reported but allowed (nixpkgs
moves on its own schedule). A direct dependency (one the lock says comes "via fragrance-ai
(pyproject.toml)") that nixpkgs lacks fails the check, because the Nix build would run
without it. A transitive one nixpkgs lacks is only reported: nixpkgs resolves its own
dependency tree (its huggingface-hub, say, may not need the httpx2 that ours does), so its
absence says nothing about the Nix build.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Row:
    name: str
    attr: str
    locked: str
    nixpkgs: str | None
    direct: bool = True

    @property
    def status(self) -> str:
        if self.nixpkgs is None:
            return "missing" if self.direct else "missing (transitive)"
        # The local label (torch's "+cpu") names a build, not a release.
        return "same" if self.locked.split("+")[0] == self.nixpkgs else "drift"


def direct_dependencies(lock_text: str) -> set[str]:
    """Names the lock pins because pyproject.toml asks for them (normalised, PEP 503)."""
    direct: set[str] = set()
    current: str | None = None
    for line in lock_text.splitlines():
        pin = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", line)
        if pin:
            current = _normalise(pin.group(1))
        elif current and "fragrance-ai (pyproject.toml)" in line:
            direct.add(current)
    return direct


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_rows(path: Path, direct: set[str]) -> list[Row]:
    return [
        Row(**row, direct=_normalise(row["name"]) in direct) for row in json.loads(path.read_text())
    ]


def report(rows: list[Row]) -> str:
    lines = [f"{'package':<24} {'lock':<16} {'nixpkgs':<16} status"]
    for row in sorted(rows, key=lambda row: (not row.status.startswith("missing"), row.name)):
        shown = row.name if row.attr == row.name else f"{row.name} ({row.attr})"
        lines.append(f"{shown:<24} {row.locked:<16} {row.nixpkgs or '-':<16} {row.status}")
    counts = {status: sum(row.status == status for row in rows) for status in ("same", "drift")}
    missing = [row.name for row in rows if row.status == "missing"]
    transitive = [row.name for row in rows if row.status == "missing (transitive)"]
    lines.append(
        f"{len(rows)} locked packages: {counts['same']} same, {counts['drift']} drifted, "
        f"{len(missing)} missing from nixpkgs"
        + (f" ({', '.join(missing)})" if missing else "")
        + (
            f", {len(transitive)} transitive not in nixpkgs ({', '.join(transitive)})"
            if transitive
            else ""
        )
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: lock_drift.py ROWS.json requirements-lock.txt", file=sys.stderr)
        return 2
    rows = read_rows(Path(argv[1]), direct_dependencies(Path(argv[2]).read_text()))
    print(report(rows), end="")
    return 1 if any(row.status == "missing" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

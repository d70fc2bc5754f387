"""Writes requirements-cuda-lock.txt: the CUDA variant's lock, an overlay on
requirements-lock.txt.

PyPI's default Linux x86_64 wheel of torch is a CUDA build whose libraries come as wheels of
their own (nvidia-*, cuda-toolkit, cuda-bindings, triton). This resolves them for torch at the
lock's release (requirements-lock.txt's `torch==X+cpu` gives X) on the lock's Python, for Linux
x86_64, from PyPI's JSON index pages (every file's sha256) and the PEP 658 metadata files
(`<wheel URL>.metadata`, a few kB each): no wheel is downloaded. Every other requirement must
be met by requirements-lock.txt's own versions, or this fails and says which.

The result is in pip's hash format, pip-compile's layout, and holds only what differs from
requirements-lock.txt: torch and the packages it brings. `nix/lock_drift.py --write-pins`
turns it into nix/pins-cuda.json. Run with the project's virtual environment (it needs
`packaging`):

    .venv/bin/python nix/cuda_lock.py            # writes requirements-cuda-lock.txt
    .venv/bin/python nix/lock_drift.py --write-pins
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lock_drift  # the sibling script, not an installed module

PYPI_JSON = "https://pypi.org/simple/{name}/"
MACHINE = "x86_64"


@dataclass(frozen=True)
class File:
    filename: str
    url: str
    sha256: str
    size: int


@dataclass
class Release:
    name: str
    version: str
    files: list[File]
    requires: list[Requirement] = field(default_factory=list)


# The index and metadata readers, replaceable in tests.
IndexReader = Callable[[str], list[dict[str, Any]]]
MetadataReader = Callable[[str], str]


def _read_index(name: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        PYPI_JSON.format(name=name), headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        files: list[dict[str, Any]] = json.load(response)["files"]
    return files


def _get(url: str, first: int | None = None, last: int | None = None) -> bytes:
    headers = {} if first is None else {"Range": f"bytes={first}-{'' if last is None else last}"}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        data: bytes = response.read()
    return data


def _read_metadata(url: str) -> str:
    """The wheel's METADATA: PEP 658's `.metadata` file, or, where the index has none, read
    out of the wheel with HTTP range requests (its zip directory, then that one member)."""
    try:
        return _get(url + ".metadata").decode()
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
    size = int(
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=60).headers[
            "Content-Length"
        ]
    )
    tail = _get(url, max(0, size - 65536))
    end = tail.rindex(b"PK\x05\x06")
    directory_size, directory_offset = struct.unpack("<II", tail[end + 12 : end + 20])
    directory = _get(url, directory_offset, directory_offset + directory_size - 1)
    position = 0
    while position < len(directory):
        (compression, compressed, name_length, extra_length, comment_length, offset) = (
            struct.unpack("<10xH8xI4xHHH8xI", directory[position : position + 46])
        )
        name = directory[position + 46 : position + 46 + name_length].decode()
        position += 46 + name_length + extra_length + comment_length
        if re.fullmatch(r"[^/]+\.dist-info/METADATA", name):
            header = _get(url, offset, offset + 29)
            skip = 30 + sum(struct.unpack("<HH", header[26:30]))
            data = _get(url, offset + skip, offset + skip + compressed - 1)
            return (zlib.decompress(data, -15) if compression == 8 else data).decode()
    raise LookupError(f"{url}: no .dist-info/METADATA in the wheel")


def environment(python: str) -> dict[str, str]:
    """PEP 508 marker values of CPython <python> on Linux x86_64."""
    return {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "platform_system": "Linux",
        "sys_platform": "linux",
        "os_name": "posix",
        "platform_machine": MACHINE,
    }


def _version_of(filename: str) -> Version | None:
    # name-version-... for wheels; the name part has no "-" (PEP 427 escapes it to "_").
    try:
        return Version(filename.split("-")[1])
    except (IndexError, InvalidVersion):
        return None


def _fits(filename: str, python: str) -> bool:
    """A wheel pip would install on CPython <python>, Linux x86_64 (manylinux)."""
    return (
        filename.endswith(".whl")
        and lock_drift._system(filename) in ("any", f"{MACHINE}-linux")
        and lock_drift._fits_python(filename, python)
    )


class Resolver:
    def __init__(
        self,
        lock_text: str,
        read_index: IndexReader = _read_index,
        read_metadata: MetadataReader = _read_metadata,
    ) -> None:
        self.python = lock_drift.lock_python(lock_text)
        self.locked = {package.name: package for package in lock_drift.parse_lock(lock_text)}
        self.environment = environment(self.python)
        self.read_index = read_index
        self.read_metadata = read_metadata
        self._indexes: dict[str, list[dict[str, Any]]] = {}
        self._releases: dict[tuple[str, Version], Release] = {}

    def _candidates(self, name: str, specifier: SpecifierSet) -> list[Version]:
        if name not in self._indexes:
            self._indexes[name] = self.read_index(name)
        versions = {
            version
            for entry in self._indexes[name]
            if not entry.get("yanked") and _fits(entry["filename"], self.python)
            for version in [_version_of(entry["filename"])]
            if version is not None
        }
        return sorted(specifier.filter(versions), reverse=True)

    def release(self, name: str, version: Version) -> Release:
        """The release's files for this platform and its requirements (from its metadata)."""
        if (name, version) not in self._releases:
            self._releases[name, version] = self._release(name, version)
        return self._releases[name, version]

    def _release(self, name: str, version: Version) -> Release:
        entries = [
            entry
            for entry in self._indexes[name]
            if _version_of(entry["filename"]) == version
            and not entry.get("yanked")
            and _fits(entry["filename"], self.python)
        ]
        files = sorted(
            (
                File(e["filename"], e["url"], e["hashes"]["sha256"], int(e.get("size", 0)))
                for e in entries
            ),
            key=lambda file: file.filename,
        )
        metadata = self.read_metadata(files[0].url)
        requires = [
            Requirement(line.split(":", 1)[1].strip())
            for line in metadata.splitlines()
            if line.startswith("Requires-Dist:")
        ]
        shown = next(
            line.split(":", 1)[1].strip()
            for line in metadata.splitlines()
            if line.startswith("Version:")
        )
        return Release(name, shown, files, requires)

    def _wanted(self, requirement: Requirement, extras: frozenset[str]) -> bool:
        if requirement.marker is None:
            return True
        marker: Marker = requirement.marker
        return any(
            marker.evaluate({**self.environment, "extra": extra}) for extra in (extras or {""})
        )

    def resolve(self, root: str, root_version: str) -> dict[str, tuple[Release, set[str]]]:
        """root==root_version and what it needs beyond the lock: {name: (release, wanted by)}.

        Newest first, in rounds, to a fixed point: a round walks the requirements from the
        root, and the next round starts from its choices, until every version chosen
        satisfies every requirement on it. The CUDA wheels pin each other exactly, so this
        settles in a round or two; no backtracking."""
        root = lock_drift.normalise(root)
        preferred: dict[str, Version] = {}
        for _ in range(20):
            resolved, settled = self._round(root, root_version, preferred)
            if settled == preferred:
                return resolved
            preferred = settled
        raise LookupError(f"{root}=={root_version}: the resolution does not settle")

    def _round(
        self, root: str, root_version: str, preferred: dict[str, Version]
    ) -> tuple[dict[str, tuple[Release, set[str]]], dict[str, Version]]:
        # name -> {wanting package: specifier}, extras asked for, and who wants it
        constraints: dict[str, dict[str, SpecifierSet]] = {
            root: {"": SpecifierSet(f"=={root_version}")}
        }
        extras: dict[str, set[str]] = {root: set()}
        wanted_by: dict[str, set[str]] = {root: set(self.locked[root].wanted_by)}
        if self.locked[root].direct:
            wanted_by[root].add("fragrance-ai (pyproject.toml)")
        chosen: dict[str, Release] = {}
        processed: dict[str, tuple[str, frozenset[str]]] = {}
        queue = [root]
        while queue:
            name = queue.pop(0)
            candidates = self._candidates(name, self._specifier(constraints[name]))
            if not candidates:
                raise LookupError(
                    f"no {name} wheel for Python {self.python} on Linux {MACHINE} satisfies "
                    f"{self._specifier(constraints[name])}"
                )
            pick = preferred[name] if preferred.get(name) in candidates else candidates[0]
            chosen[name] = self.release(name, pick)
            state = (str(pick), frozenset(extras[name]))
            if processed.get(name) == state:
                continue
            processed[name] = state
            for requirement in chosen[name].requires:
                if not self._wanted(requirement, state[1]):
                    continue
                needed = lock_drift.normalise(requirement.name)
                if needed in self.locked and needed != root:
                    self._check_locked(needed, requirement, name)
                    continue
                mine = constraints.setdefault(needed, {})
                mine[name] = (
                    mine[name] & requirement.specifier if name in mine else requirement.specifier
                )
                extras.setdefault(needed, set()).update(requirement.extras)
                wanted_by.setdefault(needed, set()).add(name)
                queue.append(needed)
        settled = {name: Version(release.version) for name, release in chosen.items()}
        for name in chosen:
            if settled[name] not in self._specifier(constraints[name]):
                # chosen before a later requirement narrowed it: the next round knows better
                settled[name] = self._candidates(name, self._specifier(constraints[name]))[0]
        resolved = {name: (chosen[name], wanted_by[name]) for name in chosen}
        return resolved, settled

    @staticmethod
    def _specifier(constraints: dict[str, SpecifierSet]) -> SpecifierSet:
        combined = SpecifierSet()
        for specifier in constraints.values():
            combined &= specifier
        return combined

    def _check_locked(self, name: str, requirement: Requirement, wanted_by: str) -> None:
        """A requirement the lock meets must be met by the lock's version, and the lock must
        already say who wants it (its "# via" lines are the dependency graph Nix builds)."""
        locked = self.locked[name]
        if not requirement.specifier.contains(locked.version, prereleases=True):
            raise LookupError(
                f"{wanted_by} needs {requirement}, but requirements-lock.txt has "
                f"{name}=={locked.version}"
            )
        if wanted_by not in locked.wanted_by:
            raise LookupError(
                f"{wanted_by} needs {name}, but requirements-lock.txt does not say so "
                f"(no '# via {wanted_by}' under {name}): this script cannot add that edge"
            )


def render(resolved: dict[str, tuple[Release, set[str]]], python: str, torch: str) -> str:
    total = sum(file.size for release, _ in resolved.values() for file in release.files)
    header = f"""
The CUDA variant's lock (flake.nix: fragrance-ai-cuda, worker-llm-cuda and worker-rl-cuda),
an overlay on requirements-lock.txt: torch's CPU wheel gives way to PyPI's default Linux
x86_64 wheel of torch {torch} (a CUDA build), and the CUDA wheels it requires are added.
Every other package is requirements-lock.txt's, at its version.

Resolved for Python {python} on Linux x86_64 by

   .venv/bin/python nix/cuda_lock.py

from PyPI's JSON index pages (each file's sha256) and each wheel's metadata (PEP 658, or
read out of the wheel by HTTP range requests), without downloading a wheel. It hashes only
the files pip installs on Linux x86_64 with that Python: {len(resolved)} packages, \
{total / 1e9:.2f} GB of wheels.
`.venv/bin/python nix/lock_drift.py --write-pins` turns it into nix/pins-cuda.json. With pip:
install requirements-lock.txt, then this file with --no-deps.
"""
    lines = [f"# {line}".rstrip() for line in header.splitlines()] + ["#"]
    for name in sorted(resolved):
        release, wanted_by = resolved[name]
        lines.append(f"{name}=={release.version} \\")
        hashes = [f"    --hash=sha256:{file.sha256}" for file in release.files]
        lines.append(" \\\n".join(hashes))
        via = sorted(wanted_by, key=lambda who: who.lower())
        if len(via) == 1:
            lines.append(f"    # via {via[0]}")
        else:
            lines.append("    # via")
            lines.extend(f"    #   {who}" for who in via)
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cuda_lock.py", description=__doc__.split("\n")[0])
    parser.add_argument("--lock", type=Path, default=lock_drift.LOCK)
    parser.add_argument("--output", type=Path, default=lock_drift.CUDA_LOCK)
    args = parser.parse_args(argv[1:])
    lock_text = args.lock.read_text()
    resolver = Resolver(lock_text)
    torch = lock_drift._release(resolver.locked["torch"].version)
    try:
        resolved = resolver.resolve("torch", torch)
    except LookupError as error:
        print(f"cuda_lock.py: {error}", file=sys.stderr)
        return 1
    args.output.write_text(render(resolved, resolver.python, torch))
    print(f"{args.output}: {len(resolved)} packages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

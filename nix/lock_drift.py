"""Keeps what Nix builds in step with the locks.

Two jobs, one source of truth (the locks):

* `--write-pins` writes a pins file per lock: nix/pins.json from requirements-lock.txt,
  nix/pins-cuda.json from requirements-cuda-lock.txt (made by nix/cuda_lock.py: torch's CUDA
  wheel and the CUDA wheels it needs, laid over requirements-lock.txt), nix/pins-dev.json from
  requirements-dev-lock.txt (the dev tools; what requirements-lock.txt already pins is left
  to it). Each package gets the lock's version, one file the lock hashes per system (URL and
  SRI hash), whether pyproject or requirements-dev.in asks for it, and its dependencies within
  the locks (their "# via" lines read backwards). nix/lock-packages.nix builds exactly those.
  A pin whose version and hash are still in the lock is kept as it is; only new or changed
  ones are looked up in the package index (`--offline` refuses to look anything up, which is
  how the tests run it).

* `--check OUTPUTS.json` (`checks.<system>.lock-drift`) judges what each output really
  contains against its locks. OUTPUTS.json, written by the flake while it evaluates, lists per
  output (the CPU package, the api package, the CUDA package, the dev shell) its Python
  version, its locks, its direct dependencies and every Python package of its closure (name
  and version, from nixpkgs' requiredPythonModules). A direct dependency whose major.minor
  differs from the lock's, that the output lacks or that no lock holds, two versions of one
  package in one output, or an interpreter other than the lock's Python fails the check;
  transitive differences are reported.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html.parser
import json
import re
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / "nix" / "pins.json"
LOCK = ROOT / "requirements-lock.txt"
CUDA_LOCK = ROOT / "requirements-cuda-lock.txt"
DEV_LOCK = ROOT / "requirements-dev-lock.txt"

# How a lock says that pyproject.toml or requirements-dev.in asks for a package itself.
ROOTS = ("fragrance-ai (pyproject.toml)", "-r requirements-dev.in")

PYPI = "https://pypi.org/simple"
# Where pip finds torch's CPU build (the lock's `+cpu`); scripts/lock says the same.
PYTORCH_CPU = "https://download.pytorch.org/whl/cpu"

# Wheel platform tags, as Nix names the systems.
SYSTEMS = {"x86_64": "x86_64-linux", "aarch64": "aarch64-linux"}


@dataclass(frozen=True)
class Locked:
    name: str
    version: str
    hashes: frozenset[str]
    direct: bool
    # The packages whose requirements brought this one in (the lock's "# via" lines).
    wanted_by: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Row:
    """One package of one output against its locks."""

    name: str
    locked: str | None
    nix: str | None
    direct: bool = True
    # Every version the output holds when it holds more than one.
    versions: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        kind = "" if self.direct else " (transitive)"
        if len(self.versions) > 1:
            return "duplicate"
        if self.nix is None:
            return "missing" + kind
        if self.locked is None:
            return "not in the lock" + kind
        if self.locked == self.nix:
            return "same"
        if _release(self.locked) == _release(self.nix):
            # Another build of the release: torch's CPU wheel where the CUDA lock wants its
            # CUDA wheel, or the reverse.
            return "other build" + kind
        if _major_minor(self.locked) == _major_minor(self.nix):
            return "patch"
        return "drift" + kind

    @property
    def fails(self) -> bool:
        return self.status in ("duplicate", "missing", "not in the lock", "other build", "drift")


def _release(version: str) -> str:
    # The local label (torch's "+cpu") names a build, not a release.
    return version.split("+", maxsplit=1)[0]


def _major_minor(version: str) -> tuple[str, ...]:
    parts = _release(version).split(".")
    return tuple([*parts, "0"][:2])


def normalise(name: str) -> str:
    """PEP 503, which is also how nixpkgs names Python packages."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text: str) -> list[Locked]:
    """The pins of a pip-compile lock, with their hashes and whether pyproject asks for them."""
    entries = re.split(r"^(?=[A-Za-z0-9])", text, flags=re.MULTILINE)
    locked = []
    for entry in entries:
        pin = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\\n]+)", entry)
        if pin is None:
            continue
        via = re.findall(
            r"#(?:   | via )([A-Za-z0-9][A-Za-z0-9._-]*)(?: \(pyproject\.toml\))?$", entry, re.M
        )
        locked.append(
            Locked(
                name=normalise(pin.group(1)),
                version=pin.group(2),
                hashes=frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", entry)),
                direct=any(root in entry for root in ROOTS),
                wanted_by=frozenset(normalise(name) for name in via) - {"fragrance-ai"},
            )
        )
    return locked


def dependencies(locked: list[Locked]) -> dict[str, list[str]]:
    """Each pin's own dependencies within the lock: the "# via" lines read backwards."""
    return {
        package.name: sorted(other.name for other in locked if package.name in other.wanted_by)
        for package in locked
    }


def lock_python(lock_text: str) -> str:
    """The Python version the lock was resolved for (its header says so: pip-compile's, or
    nix/cuda_lock.py's "Resolved for Python X.Y")."""
    found = re.search(
        r"(?:autogenerated by pip-compile with|Resolved for) Python (\d+\.\d+)", lock_text
    )
    if found is None:
        raise ValueError("the lock's header does not name its Python version")
    return found.group(1)


# --- the drift check --------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """What the flake says one output contains (an entry of OUTPUTS.json)."""

    output: str
    python: str
    locks: tuple[str, ...]
    direct: frozenset[str]
    packages: tuple[tuple[str, str], ...]

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Output:
        return cls(
            output=entry["output"],
            python=entry["python"],
            locks=tuple(entry["locks"]),
            direct=frozenset(normalise(name) for name in entry["direct"]),
            packages=tuple(
                (normalise(package["name"]), package["version"]) for package in entry["packages"]
            ),
        )


def merged_lock(lock_texts: Iterable[str]) -> dict[str, Locked]:
    """Locks laid over each other in order: a later lock's pin replaces an earlier one's."""
    merged: dict[str, Locked] = {}
    for text in lock_texts:
        merged.update({locked.name: locked for locked in parse_lock(text)})
    return merged


def judge(output: Output, lock_texts: list[str]) -> tuple[str | None, list[Row]]:
    """The interpreter's verdict (None when it is the lock's) and one row per package."""
    locked = merged_lock(lock_texts)
    python = lock_python(lock_texts[0])
    interpreter = None
    if _major_minor(output.python) != _major_minor(python):
        interpreter = f"Python {output.python}, the lock's is {python}"
    held: dict[str, list[str]] = {}
    for name, version in output.packages:
        held.setdefault(name, [])
        if version not in held[name]:
            held[name].append(version)
    rows = [
        Row(
            name=name,
            locked=locked[name].version if name in locked else None,
            nix=versions[0],
            direct=name in output.direct,
            versions=tuple(versions) if len(versions) > 1 else (),
        )
        for name, versions in held.items()
    ]
    rows += [
        Row(name=name, locked=locked[name].version if name in locked else None, nix=None)
        for name in sorted(output.direct - set(held))
    ]
    return interpreter, rows


def report(output: str, interpreter: str | None, rows: list[Row]) -> str:
    lines = [f"== {output}"]
    if interpreter:
        lines.append(f"interpreter: {interpreter}: FAILS")
    lines.append(f"{'package':<28} {'lock':<20} {'nix':<20} status")
    for row in sorted(rows, key=lambda row: (not row.fails, not row.direct, row.name)):
        nix = ", ".join(row.versions) if row.versions else (row.nix or "-")
        lines.append(f"{row.name:<28} {row.locked or '-':<20} {nix:<20} {row.status}")
    statuses = [row.status for row in rows]
    failing = [row.name for row in rows if row.fails]
    lines.append(
        f"{len(rows)} packages: {statuses.count('same')} same, "
        f"{statuses.count('patch')} other patch release, "
        f"{sum(status.endswith('(transitive)') for status in statuses)} transitive differ; "
        f"{len(failing)} fail" + (f" ({', '.join(failing)})" if failing else "")
    )
    return "\n".join(lines) + "\n"


def check(outputs_json: Path, root: Path) -> tuple[bool, str]:
    """Every output of OUTPUTS.json against its locks (paths relative to `root`)."""
    passed = True
    reports = []
    for entry in json.loads(outputs_json.read_text()):
        output = Output.from_json(entry)
        interpreter, rows = judge(output, [(root / lock).read_text() for lock in output.locks])
        passed = passed and interpreter is None and not any(row.fails for row in rows)
        reports.append(report(output.output, interpreter, rows))
    return passed, "\n".join(reports)


# --- the pins ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    sha256: str


def sri(sha256_hex: str) -> str:
    return "sha256-" + base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def sha256_hex(sri_hash: str) -> str:
    return base64.b64decode(sri_hash.removeprefix("sha256-")).hex()


def _wheel_tags(filename: str) -> tuple[str, str, str]:
    python, abi, platform = filename.removesuffix(".whl").split("-")[-3:]
    return python, abi, platform


def _system(filename: str) -> str | None:
    """The Nix system a file builds on, "any" for sdists and pure wheels, None for others."""
    if not filename.endswith(".whl"):
        return "any"
    _, _, platform = _wheel_tags(filename)
    if platform == "any":
        return "any"
    if not platform.startswith("manylinux"):
        return None  # musllinux, macOS, Windows
    return next((nix for arch, nix in SYSTEMS.items() if platform.endswith(arch)), None)


def _fits_python(filename: str, python: str) -> bool:
    if not filename.endswith(".whl"):
        return True
    tag, abi, _ = _wheel_tags(filename)
    cpython = "cp" + python.replace(".", "")
    tags = tag.split(".")  # "py2.py3"
    return "py3" in tags or cpython in tags or (abi == "abi3" and tag.startswith("cp3"))


def choose_files(
    locked: Locked, files: Iterable[IndexFile], python: str
) -> dict[str, dict[str, str]]:
    """Among the files the lock hashes: the pure wheel, else one wheel per Linux system, else
    the sdist. Wheels install as they are (no build system, no compiler, no cargo hashes
    that only Nix could compute), which is also what pip does with this lock."""
    hashed = [file for file in files if file.sha256 in locked.hashes]
    wheels = sorted(
        (file for file in hashed if file.filename.endswith(".whl")),
        key=lambda file: file.filename,
    )
    by_system: dict[str, IndexFile] = {}
    for wheel in wheels:
        system = _system(wheel.filename)
        if system is not None and _fits_python(wheel.filename, python):
            by_system.setdefault(system, wheel)
    if "any" in by_system:
        by_system = {"any": by_system["any"]}
    if not by_system:
        sdists = [file for file in hashed if not file.filename.endswith(".whl")]
        if not sdists:
            raise LookupError(
                f"{locked.name}=={locked.version}: the index has none of the lock's files "
                f"for Python {python} on Linux"
            )
        by_system = {"any": sdists[0]}
    return {
        system: {"url": file.url, "hash": sri(file.sha256), "file": file.filename}
        for system, file in sorted(by_system.items())
    }


class _Links(html.parser.HTMLParser):
    """The files of a PEP 503 simple index page (PyPI's and PyTorch's both are)."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base
        self.files: list[IndexFile] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag != "a" or not href or "#sha256=" not in href:
            return
        url, digest = href.split("#sha256=")
        url = urllib.parse.urljoin(self.base, url)
        filename = urllib.parse.unquote(url.rsplit("/", 1)[1])
        self.files.append(IndexFile(filename, url, digest))


def index_files(locked: Locked) -> list[IndexFile]:
    index = PYTORCH_CPU if locked.version.endswith("+cpu") else PYPI
    page = f"{index}/{locked.name}/"
    with urllib.request.urlopen(page, timeout=60) as response:
        links = _Links(page)
        links.feed(response.read().decode())
    return links.files


def local_files(directory: Path) -> list[IndexFile]:
    """Files of a pip find-links directory, given the URL they have on PyTorch's index."""
    return [
        IndexFile(
            path.name,
            f"{PYTORCH_CPU}/{urllib.parse.quote(path.name)}",
            hashlib.sha256(path.read_bytes()).hexdigest(),
        )
        for path in sorted(directory.glob("*.whl"))
    ]


Lookup = Callable[[Locked], list[IndexFile]]


@dataclass(frozen=True)
class PinSet:
    """A lock and the pins file it makes; `base` is the lock it is laid over."""

    lock: Path
    pins: Path
    base: Path | None = None
    # What every pin of this set says about itself (the CUDA wheels are patched against the
    # host's driver: nix/lock-packages.nix).
    marks: tuple[tuple[str, Any], ...] = ()


PIN_SETS = (
    PinSet(LOCK, PINS),
    PinSet(CUDA_LOCK, ROOT / "nix" / "pins-cuda.json", base=LOCK, marks=(("cuda", True),)),
    PinSet(DEV_LOCK, ROOT / "nix" / "pins-dev.json", base=LOCK),
)


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def overlay(base_text: str, lock_text: str) -> tuple[list[Locked], dict[str, list[str]]]:
    """What a lock adds to or replaces in its base, and the dependencies of those packages
    within both locks. A package both hold at one version is left to the base; one they hold
    at different versions is the overlay's (the CUDA lock's torch)."""
    base = {locked.name: locked for locked in parse_lock(base_text)}
    mine = parse_lock(lock_text)
    if lock_python(lock_text) != lock_python(base_text):
        raise LookupError(
            f"the lock is for Python {lock_python(lock_text)}, its base for "
            f"{lock_python(base_text)}"
        )
    mine_by_name = {locked.name: locked for locked in mine}
    graph = []
    for name in base.keys() | mine_by_name.keys():
        top = mine_by_name.get(name) or base[name]
        wanted_by = frozenset().union(
            *(lock[name].wanted_by for lock in (base, mine_by_name) if name in lock)
        )
        graph.append(Locked(top.name, top.version, top.hashes, top.direct, wanted_by))
    own = [
        locked
        for locked in mine
        if locked.name not in base or base[locked.name].version != locked.version
    ]
    needs = dependencies(graph)
    own_names = {locked.name for locked in own}
    for locked in own:
        # The base's packages keep the base's dependency lists, so none of them may need a
        # package only the overlay has.
        for wanting in locked.wanted_by - own_names:
            if wanting in base and locked.name not in base:
                raise LookupError(
                    f"{locked.name}: wanted by {wanting}, which the base lock builds without it"
                )
    return own, {locked.name: needs[locked.name] for locked in own}


def generate_pins(
    lock_text: str,
    existing: dict[str, Any],
    lookup: Lookup | None,
    *,
    base_text: str | None = None,
    marks: Iterable[tuple[str, Any]] = (),
    generated_from: str = "requirements-lock.txt",
) -> dict[str, Any]:
    """A pins file's content for this lock (over `base_text` if given); `lookup` None means
    offline."""
    python = lock_python(lock_text)
    kept = existing.get("packages", {}) if existing.get("python") == python else {}
    if base_text is None:
        locked = parse_lock(lock_text)
        needs = dependencies(locked)
    else:
        locked, needs = overlay(base_text, lock_text)
    packages = {}
    for package in sorted(locked, key=lambda package: package.name):
        old = kept.get(package.name)
        if (
            old
            and old["version"] == package.version
            and all(sha256_hex(file["hash"]) in package.hashes for file in old["files"].values())
        ):
            files = old["files"]
        elif lookup is None:
            raise LookupError(
                f"{package.name}=={package.version} is not pinned yet and --offline forbids "
                "looking it up"
            )
        else:
            files = choose_files(package, lookup(package), python)
        packages[package.name] = {
            "version": package.version,
            "direct": package.direct,
            "dependencies": needs[package.name],
            "files": files,
            **dict(marks),
        }
    return {
        "generatedBy": f"python nix/lock_drift.py --write-pins (from {generated_from})",
        "python": python,
        "packages": packages,
    }


def render(pins: dict[str, Any]) -> str:
    return json.dumps(pins, indent=2, sort_keys=True) + "\n"


# --- the command ------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="lock_drift.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "lock", nargs="?", type=Path, help="with --write-pins: only this lock (and --pins)"
    )
    parser.add_argument(
        "--check", type=Path, metavar="OUTPUTS.json", help="the drift check: judge the outputs"
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="where the outputs' locks are (the check's)"
    )
    parser.add_argument("--write-pins", action="store_true", help="regenerate the pins files")
    parser.add_argument("--pins", type=Path, help="with LOCK: the pins file to write")
    parser.add_argument("--base", type=Path, help="with LOCK: the lock it is laid over")
    parser.add_argument("--offline", action="store_true", help="never look files up")
    parser.add_argument(
        "--find-links", type=Path, help="a directory of wheels to look in before the index"
    )
    args = parser.parse_args(argv[1:])
    if args.write_pins:
        if args.lock is None:
            sets = [pin_set for pin_set in PIN_SETS if pin_set.lock.exists()]
        else:
            sets = [PinSet(args.lock, args.pins or PINS, base=args.base)]
        return max(_write_pins(pin_set, args) for pin_set in sets)
    if args.check is None:
        parser.error("--check OUTPUTS.json or --write-pins")
    passed, text = check(args.check, args.root)
    print(text, end="")
    return 0 if passed else 1


def _write_pins(pin_set: PinSet, args: argparse.Namespace) -> int:
    existing = json.loads(pin_set.pins.read_text()) if pin_set.pins.exists() else {}
    lookup: Lookup | None = None
    if not args.offline:
        local = local_files(args.find_links) if args.find_links else []

        def lookup(locked: Locked) -> list[IndexFile]:
            here = [file for file in local if file.sha256 in locked.hashes]
            return here or index_files(locked)

    try:
        pins = generate_pins(
            pin_set.lock.read_text(),
            existing,
            lookup,
            base_text=pin_set.base.read_text() if pin_set.base else None,
            marks=pin_set.marks,
            generated_from=_relative(pin_set.lock),
        )
    except LookupError as error:
        print(f"lock_drift.py: {pin_set.lock.name}: {error}", file=sys.stderr)
        return 1
    pin_set.pins.write_text(render(pins))
    print(f"{pin_set.pins}: {len(pins['packages'])} packages pinned", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

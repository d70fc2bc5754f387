"""Reading a range of history out of git (the `git` command, as a subprocess).

Every failure a user can cause (not a repository, an unknown revision, no git at all) is a
`HistoryError` with a one-line message naming the problem; the command turns it into exit 2.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

# Fields of one commit, NUL-separated; with -z git ends each commit with a NUL as well, so
# the output is one flat NUL-separated list, and a message can hold any other character.
_FIELDS = ("%H", "%aN", "%aE", "%aI", "%B")
_FORMAT = "%x00".join(_FIELDS)
_TIMEOUT_S = 60


class HistoryError(Exception):
    """A problem with the repository or the revisions asked for, said in one line."""


@dataclass(frozen=True)
class Commit:
    sha: str
    author_name: str
    author_email: str
    date: str
    """ISO 8601 author date, as git prints it with `%aI`."""
    message: str


@dataclass(frozen=True)
class Range:
    """The commits reachable from `end` and not from `start`; all of them when `start` is None."""

    start: str | None
    end: str


@dataclass(frozen=True)
class DiffSummary:
    files_changed: int
    insertions: int
    deletions: int
    added_paths: tuple[str, ...]


class Repository:
    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_dir():
            raise HistoryError(f"not a git repository: {path} is not a directory")
        inside = self._git("rev-parse", "--is-inside-work-tree", check=False)
        if inside.returncode != 0:
            raise HistoryError(f"not a git repository: {path.resolve()}")

    def resolve(self, revision: str) -> str:
        """The full commit id `revision` names, or a HistoryError saying it names none."""
        # `--end-of-options` so that a revision starting with `-` is never read as an option.
        result = self._git(
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{revision}^{{commit}}",
            check=False,
        )
        if result.returncode != 0 or not result.stdout.strip():
            raise HistoryError(f"unknown revision: {revision!r} names no commit in {self.path}")
        return result.stdout.strip()

    def latest_tag(self, revision: str = "HEAD") -> str | None:
        """The most recent tag reachable from `revision`, or None when there is none."""
        result = self._git("describe", "--tags", "--abbrev=0", revision, check=False)
        if result.returncode != 0:
            return None
        return result.stdout.strip() or None

    def date_of(self, revision: str) -> str:
        """The commit's ISO 8601 author date."""
        return self._git("log", "-1", "--format=%aI", revision, "--").stdout.strip()

    def has_parent(self, revision: str) -> bool:
        return (
            self._git("rev-parse", "--verify", "--quiet", f"{revision}^", check=False).returncode
            == 0
        )

    def commits(self, history: Range) -> list[Commit]:
        """Oldest first, so that notes read in the order the work was done."""
        revisions = [history.end] if history.start is None else [f"{history.start}..{history.end}"]
        out = self._git("log", "-z", "--reverse", f"--format={_FORMAT}", *revisions, "--").stdout
        fields = out.split("\0")
        if fields and fields[-1] == "":
            fields.pop()
        if len(fields) % len(_FIELDS):
            raise HistoryError(f"git log printed {len(fields)} fields, not whole commits")
        width = len(_FIELDS)
        return [Commit(*fields[index : index + width]) for index in range(0, len(fields), width)]

    def diff_summary(self, history: Range, added_under: str) -> DiffSummary:
        """Size of the change, and the files added under `added_under` (e.g. migrations)."""
        # Diffing from the empty tree shows the root commit's own files as added.
        start = history.start or self._git("hash-object", "-t", "tree", "/dev/null").stdout.strip()
        stat = self._git("diff", "--numstat", "-z", start, history.end, "--").stdout
        files = insertions = deletions = 0
        for entry in stat.split("\0"):
            # Text files: "added\tdeleted\tpath"; binary ones show "-" for both counts.
            parts = entry.split("\t")
            if len(parts) < 3:
                continue
            files += 1
            insertions += int(parts[0]) if parts[0].isdigit() else 0
            deletions += int(parts[1]) if parts[1].isdigit() else 0
        added = self._git(
            "diff", "--name-only", "--diff-filter=A", "-z", start, history.end, "--", added_under
        ).stdout
        return DiffSummary(files, insertions, deletions, tuple(p for p in added.split("\0") if p))

    def _git(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = ["git", "-c", "i18n.logOutputEncoding=UTF-8", "-c", "core.quotePath=false"]
        try:
            result = subprocess.run(
                [*command, *arguments],
                cwd=self.path,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=_TIMEOUT_S,
                check=False,
            )
        except FileNotFoundError as error:
            raise HistoryError(f"cannot run git: {error.strerror}: {error.filename}") from None
        except subprocess.TimeoutExpired:
            raise HistoryError(f"git {arguments[0]} took over {_TIMEOUT_S} s") from None
        if check and result.returncode != 0:
            lines = result.stderr.strip().splitlines() or ["(no message)"]
            raise HistoryError(f"git {arguments[0]} failed: {lines[0]}")
        return result

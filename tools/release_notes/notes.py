"""Release notes as data: a range's commits grouped by category, breaking changes, references
and contributors. Pure: the commits and the diff summary come in, nothing is read here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from tools.release_notes.conventional import ParsedMessage, Reference, ReferenceKind, parse_message
from tools.release_notes.history import Commit, DiffSummary

# Conventional Commit types with a section of their own, in the order the notes list them.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("feat", "Features"),
    ("fix", "Fixes"),
    ("perf", "Performance"),
    ("refactor", "Refactoring"),
    ("docs", "Documentation"),
    ("test", "Tests"),
    ("build", "Build"),
    ("ci", "Continuous integration"),
    ("chore", "Chores"),
)
# Everything else: prose messages and types outside the list above. Kept, never dropped.
OTHER = "Other"
_TITLES = dict(CATEGORIES)


@dataclass(frozen=True)
class Change:
    commit: Commit
    message: ParsedMessage

    @property
    def short_sha(self) -> str:
        return self.commit.sha[:7]

    @property
    def category(self) -> str:
        return _TITLES.get(self.message.type or "", OTHER)


@dataclass(frozen=True)
class ReferenceUse:
    number: int
    kind: ReferenceKind
    change: Change


@dataclass(frozen=True)
class ReleaseNotes:
    version: str
    date: str
    """The release commit's author date, YYYY-MM-DD: the same notes whenever they are made."""
    start: str | None
    """The previous release as the user named it (a tag, a revision); None: none, the range
    is the whole history."""
    end: str
    changes: tuple[Change, ...]
    diff: DiffSummary
    """Its `added_paths` are the schema migrations this range adds."""

    @property
    def migrations(self) -> tuple[str, ...]:
        return tuple(PurePosixPath(path).stem for path in self.diff.added_paths)

    @property
    def breaking(self) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.message.breaking)

    def by_category(self) -> list[tuple[str, tuple[Change, ...]]]:
        """Non-empty categories in the fixed order, Other last."""
        titles = [title for _, title in CATEGORIES] + [OTHER]
        groups = [
            (title, tuple(c for c in self.changes if c.category == title)) for title in titles
        ]
        return [(title, changes) for title, changes in groups if changes]

    def references(self) -> list[tuple[int, tuple[ReferenceUse, ...]]]:
        """Each issue or pull request number, with every commit that names it and how."""
        uses: dict[int, list[ReferenceUse]] = {}
        for change in self.changes:
            for reference in change.message.references:
                uses.setdefault(reference.number, []).append(_use(reference, change))
        return [(number, tuple(uses[number])) for number in sorted(uses)]

    def contributors(self) -> list[str]:
        """Authors and co-authors, once each (by name, ignoring case), sorted."""
        names: dict[str, str] = {}
        for change in self.changes:
            for name in (change.commit.author_name, *change.message.co_authors):
                names.setdefault(name.strip().casefold(), name.strip())
        return sorted((name for name in names.values() if name), key=str.casefold)


def _use(reference: Reference, change: Change) -> ReferenceUse:
    return ReferenceUse(reference.number, reference.kind, change)


def build_notes(
    commits: list[Commit],
    *,
    version: str,
    date: str,
    start: str | None,
    end: str,
    diff: DiffSummary,
) -> ReleaseNotes:
    changes = tuple(Change(commit, parse_message(commit.message)) for commit in commits)
    return ReleaseNotes(version, date, start, end, changes, diff)

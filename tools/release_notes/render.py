"""Release notes as Markdown, in the shape of .github/RELEASE_TEMPLATE.md (same `##` headings,
same order; tests/tools/test_release_notes.py holds the two together)."""

from __future__ import annotations

from collections.abc import Callable

from tools.release_notes.conventional import ReferenceKind
from tools.release_notes.notes import Change, ReleaseNotes

_REFERENCE_VERBS = {
    ReferenceKind.CLOSES: "closed by",
    ReferenceKind.PULL_REQUEST: "pull request",
    ReferenceKind.MENTIONS: "mentioned by",
}


def render_markdown(notes: ReleaseNotes) -> str:
    sections: list[tuple[str, Callable[[ReleaseNotes], list[str]]]] = [
        ("Summary", _summary),
        ("Breaking changes", _breaking),
        ("Changes", _changes),
        ("Migration steps", _migration_steps),
        ("Rollback procedure", _rollback),
        ("Impact", _impact),
        ("Testing checklist", _checklist),
        ("Issues and pull requests", _references),
        ("Contributors", _contributors),
    ]
    lines = [f"# Fragrance AI {notes.version} ({notes.date})"]
    for title, body in sections:
        lines += ["", f"## {title}", "", *body(notes)]
    return "\n".join(lines) + "\n"


def _summary(notes: ReleaseNotes) -> list[str]:
    count = len(notes.changes)
    people = len(notes.contributors())
    counts = ", ".join(f"{len(changes)} {title.lower()}" for title, changes in notes.by_category())
    since = "from the first commit" if notes.start is None else f"after {notes.start}"
    return [
        f"{_plural(count, 'commit')} {since} up to {notes.end}, "
        f"by {_plural(people, 'contributor')}: {_plural(len(notes.breaking), 'breaking change')}"
        + (f"; {counts}." if counts else "."),
    ]


def _breaking(notes: ReleaseNotes) -> list[str]:
    if not notes.breaking:
        return ["None."]
    lines = []
    for change in notes.breaking:
        note = _migration_note(change).splitlines()
        # A paragraph of its own inside the list item, so Markdown keeps its line breaks apart.
        lines += [f"- {_entry(change)}", "", f"  Migration: {note[0]}"]
        lines += [f"  {line}" for line in note[1:]]
    return lines


def _changes(notes: ReleaseNotes) -> list[str]:
    lines: list[str] = []
    for title, changes in notes.by_category():
        if lines:
            lines.append("")
        lines += [f"### {title}", ""]
        lines += [f"- {_entry(change)}" for change in changes]
    return lines or ["No commits in this range."]


def _migration_steps(notes: ReleaseNotes) -> list[str]:
    steps = [
        f"{_entry(change)}: {_migration_note(change)}".replace("\n", "\n   ")
        for change in notes.breaking
    ]
    if notes.migrations and notes.start is not None:
        steps.append("Back up the database: `fragrance-ai db backup`.")
    steps.append("Install the new version.")
    if notes.migrations:
        names = ", ".join(f"`{name}`" for name in notes.migrations)
        steps.append(f"Bring the schema up to date: `fragrance-ai migrate` (new: {names}).")
    else:
        steps.append("No schema migrations: the database needs nothing.")
    steps.append("Restart the API and the workers.")
    return [f"{number}. {step}" for number, step in enumerate(steps, start=1)]


def _rollback(notes: ReleaseNotes) -> list[str]:
    if notes.start is None:
        return ["No earlier release in this history: there is nothing to roll back to."]
    lines = [f"1. Reinstall the previous release ({notes.start}) and restart the services."]
    if notes.migrations:
        lines.append(
            "2. This release changes the schema, which the previous release does not know: "
            "restore the backup taken before `fragrance-ai migrate` (`fragrance-ai db restore`)."
        )
    else:
        lines.append("2. No schema migrations: the database stays as it is.")
    return lines


def _impact(notes: ReleaseNotes) -> list[str]:
    diff = notes.diff
    breaking = len(notes.breaking)
    return [
        "- Breaking changes: "
        + (f"{breaking}, users must act (see Migration steps)." if breaking else "none."),
        f"- Schema migrations: {len(notes.migrations) or 'none'}.",
        f"- Size: {_plural(diff.files_changed, 'file')} changed, "
        f"+{diff.insertions} -{diff.deletions} lines.",
    ]


def _checklist(notes: ReleaseNotes) -> list[str]:
    items = ["`./scripts/test` passes on the release commit (ruff, mypy, the whole suite)."]
    if notes.migrations and notes.start is not None:
        items.append(
            f"Upgrade from {notes.start} on a copy of real data: backup, migrate, `/ready` is 200."
        )
        items.append("Rollback: restore that backup under the previous release; it starts.")
    elif notes.migrations:
        items.append(
            "A fresh install: `fragrance-ai migrate` on an empty database, `/ready` is 200."
        )
    items += [
        f"The migration note of {_entry(change)} works as written." for change in notes.breaking
    ]
    for number, uses in notes.references():
        items += [
            f"#{number} is fixed ({_entry(use.change)})."
            for use in uses
            if use.kind is ReferenceKind.CLOSES
        ]
    return [f"- [ ] {item}" for item in items]


def _references(notes: ReleaseNotes) -> list[str]:
    lines = []
    for number, uses in notes.references():
        named = "; ".join(f"{_REFERENCE_VERBS[use.kind]} `{use.change.short_sha}`" for use in uses)
        lines.append(f"- #{number}: {named}")
    return lines or ["None."]


def _contributors(notes: ReleaseNotes) -> list[str]:
    return [f"- {name}" for name in notes.contributors()] or ["None."]


def _entry(change: Change) -> str:
    message = change.message
    if change.category == "Other":
        # Not one of our categories: the subject as written, so nothing is lost.
        text = message.subject
    elif message.scope:
        text = f"**{message.scope}:** {message.description}"
    else:
        text = message.description
    marker = " **(breaking)**" if message.breaking else ""
    return f"{text}{marker} (`{change.short_sha}`)"


def _migration_note(change: Change) -> str:
    notes = [note for note in change.message.migration_notes if note.strip()]
    if notes:
        return "\n".join(notes)
    return "No migration note in the commit; its description says what changed."


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"

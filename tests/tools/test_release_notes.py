"""`scripts/release-notes` (tools/release_notes): the Conventional Commits parser, the grouping,
and the real command run on a throwaway git repository built here (breaking changes, a
malformed message)."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.release_notes.conventional import Reference, ReferenceKind, parse_message
from tools.release_notes.history import Commit, DiffSummary
from tools.release_notes.notes import OTHER, build_notes

ROOT = Path(__file__).resolve().parents[2]
RELEASE_NOTES = ROOT / "scripts" / "release-notes"
TEMPLATE = ROOT / ".github" / "RELEASE_TEMPLATE.md"
TIMEOUT_S = 60

# --- the parser ---------------------------------------------------------------------------


def test_header_gives_type_scope_bang_and_description() -> None:
    parsed = parse_message("feat(api)!: drop the v0 routes\n\nClients move to /v1.")
    assert (parsed.type, parsed.scope, parsed.description) == ("feat", "api", "drop the v0 routes")
    assert parsed.breaking
    assert parsed.body == "Clients move to /v1."
    assert parsed.migration_notes == ()


def test_type_is_case_insensitive_and_scope_optional() -> None:
    parsed = parse_message("Fix: handle an empty brief")
    assert (parsed.type, parsed.scope, parsed.breaking) == ("fix", None, False)


@pytest.mark.parametrize("token", ["BREAKING CHANGE", "BREAKING-CHANGE"])
def test_breaking_change_footer_is_breaking_and_its_text_the_migration_note(token: str) -> None:
    message = (
        "refactor: rename the data directory setting\n\n"
        "The old name was misleading.\n\n"
        f"{token}: DATA_DIR is now STATE_DIR;\nrename it in your environment.\n"
        "Reviewed-by: Alice"
    )
    parsed = parse_message(message)
    assert parsed.breaking
    assert parsed.migration_notes == ("DATA_DIR is now STATE_DIR;\nrename it in your environment.",)
    assert parsed.body == "The old name was misleading."


def test_breaking_change_token_is_case_sensitive() -> None:
    # The spec: BREAKING CHANGE must be upper case; another spelling is an ordinary footer.
    assert not parse_message("fix: x\n\nbreaking change: not really").breaking


def test_references_closing_pull_request_and_mentions() -> None:
    parsed = parse_message("fix(parser): read Korean notes (#45)\n\nSee #7.\n\nFixes #12")
    assert parsed.references == (
        Reference(7, ReferenceKind.MENTIONS),
        Reference(12, ReferenceKind.CLOSES),
        Reference(45, ReferenceKind.PULL_REQUEST),
    )
    assert parsed.scope == "parser"


def test_prose_issue_prefix_is_a_reference_but_no_category() -> None:
    parsed = parse_message("issue 11: reconciler and idempotent job steps")
    assert parsed.type is None
    assert parsed.description == "issue 11: reconciler and idempotent job steps"
    assert parsed.references == (Reference(11, ReferenceKind.MENTIONS),)


def test_co_authors_are_read_from_footers() -> None:
    parsed = parse_message("docs: x\n\nCo-authored-by: Dana Lee <dana@example.org>")
    assert parsed.co_authors == ("Dana Lee",)


@given(st.text())
def test_any_message_parses(message: str) -> None:
    parsed = parse_message(message)
    assert parsed.subject == parsed.subject.strip()


@given(st.text().filter(lambda text: ":" not in text.split("\n", 1)[0]))
def test_a_message_without_a_header_lands_in_other(message: str) -> None:
    notes = build_notes(
        [_commit(message)], version="x", date="d", start=None, end="e", diff=_NO_DIFF
    )
    assert [change.category for change in notes.changes] == [OTHER]


_TYPES = st.sampled_from(["feat", "fix", "perf", "refactor", "docs", "test", "build", "ci"])
_WORDS = st.from_regex(r"[a-z][a-z0-9 ,.-]{0,30}[a-z0-9]", fullmatch=True)


@given(
    _TYPES, st.none() | st.from_regex(r"[a-z][a-z-]{0,10}", fullmatch=True), _WORDS, st.booleans()
)
def test_a_written_header_reads_back(kind: str, scope: str | None, words: str, bang: bool) -> None:
    header = f"{kind}{f'({scope})' if scope else ''}{'!' if bang else ''}: {words}"
    parsed = parse_message(header)
    assert (parsed.type, parsed.scope, parsed.description, parsed.breaking) == (
        kind,
        scope,
        words,
        bang,
    )


# --- grouping -----------------------------------------------------------------------------

_NO_DIFF = DiffSummary(0, 0, 0, ())


def _commit(message: str, author: str = "Alice", sha: str = "0" * 40) -> Commit:
    return Commit(sha, author, f"{author.lower()}@example.org", "2026-01-01T00:00:00Z", message)


def test_categories_in_fixed_order_with_other_last_and_nothing_dropped() -> None:
    messages = ["wip", "fix: b", "style: c", "feat: a", "chore: d"]
    notes = build_notes(
        [_commit(m) for m in messages], version="x", date="d", start=None, end="e", diff=_NO_DIFF
    )
    grouped = [
        (title, [c.message.subject for c in changes]) for title, changes in notes.by_category()
    ]
    assert grouped == [
        ("Features", ["feat: a"]),
        ("Fixes", ["fix: b"]),
        ("Chores", ["chore: d"]),
        (OTHER, ["wip", "style: c"]),
    ]


def test_contributors_once_each_sorted_with_co_authors() -> None:
    commits = [
        _commit("a", "bob"),
        _commit("b", "Alice"),
        _commit("c", "Bob"),
        _commit("d\n\nCo-authored-by: Carol <c@example.org>", "Alice"),
    ]
    notes = build_notes(commits, version="x", date="d", start=None, end="e", diff=_NO_DIFF)
    assert notes.contributors() == ["Alice", "bob", "Carol"]


# --- the command on a real repository -----------------------------------------------------
# e2e: they run the installed command and git, and read .github/, none of which the Nix
# build's sandbox has.


def _git_environment(home: Path) -> dict[str, str]:
    environment = dict(os.environ)
    # Nothing from the machine's own git configuration (signing, hooks, templates).
    environment.update(
        HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, LC_ALL="C.UTF-8"
    )
    return environment


def _git(repo: Path, *arguments: str, author: str = "Alice", day: int = 1) -> None:
    environment = _git_environment(repo.parent)
    stamp = f"2026-03-{day:02d}T12:00:00+00:00"
    email = f"{author.lower().replace(' ', '.')}@example.org"
    environment.update(
        GIT_AUTHOR_NAME=author,
        GIT_AUTHOR_EMAIL=email,
        GIT_AUTHOR_DATE=stamp,
        GIT_COMMITTER_NAME=author,
        GIT_COMMITTER_EMAIL=email,
        GIT_COMMITTER_DATE=stamp,
    )
    subprocess.run(
        ["git", *arguments],
        cwd=repo,
        env=environment,
        check=True,
        capture_output=True,
        timeout=TIMEOUT_S,
    )


def _commit_file(repo: Path, path: str, message: str, author: str, day: int) -> None:
    file = repo / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(f"{message}\n", encoding="utf-8")
    _git(repo, "add", path)
    _git(repo, "commit", "-q", "-m", message, author=author, day=day)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _commit_file(repo, "README", "chore: first commit", "Alice", 1)
    _git(repo, "tag", "v0.1.0")
    _commit_file(repo, "api.py", "feat(api)!: drop the v0 routes", "Bob", 2)
    _commit_file(
        repo,
        "settings.py",
        "refactor: rename the data directory setting\n\n"
        "BREAKING CHANGE: DATA_DIR is now STATE_DIR; rename it in your environment.",
        "Alice",
        3,
    )
    _commit_file(repo, "parser.py", "fix(parser): read Korean notes\n\nFixes #12", "carol", 4)
    _commit_file(
        repo,
        "fragrance_ai/db/migrations/versions/0008_state_dir.py",
        "updated stuff, WIP",
        "Bob",
        5,
    )
    _commit_file(
        repo,
        "docs.md",
        "docs: explain releases (#45)\n\nCo-authored-by: Dana Lee <dana@example.org>",
        "Alice",
        6,
    )
    return repo


def _release_notes(cwd: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RELEASE_NOTES), *arguments],
        cwd=cwd,
        env=_git_environment(cwd.parent),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def _section(markdown: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"no section {title!r} in:\n{markdown}"
    return match[1]


def _headings(markdown: str) -> list[str]:
    return re.findall(r"^##? .*$", markdown, re.M)


@pytest.mark.e2e
def test_notes_between_two_revisions(repo: Path) -> None:
    result = _release_notes(repo, "--from", "v0.1.0", "--to", "HEAD", "--version", "0.2.0")
    assert result.returncode == 0, result.stderr
    notes = result.stdout

    assert notes.startswith("# Fragrance AI 0.2.0 (2026-03-06)\n")
    template_sections = [h for h in _headings(TEMPLATE.read_text(encoding="utf-8")) if h[1] == "#"]
    assert [h for h in _headings(notes) if h[1] == "#"] == template_sections
    assert "first commit" not in _section(notes, "Changes")  # the tagged commit is excluded

    breaking = _section(notes, "Breaking changes")
    assert "**api:** drop the v0 routes" in breaking
    assert "rename the data directory setting" in breaking
    assert "Migration: DATA_DIR is now STATE_DIR; rename it in your environment." in breaking
    assert notes.index("## Breaking changes") < notes.index("## Changes")

    changes = _section(notes, "Changes")
    assert re.findall(r"^### .*$", changes, re.M) == [
        "### Features",
        "### Fixes",
        "### Refactoring",
        "### Documentation",
        "### Other",
    ]
    assert "- **parser:** read Korean notes (`" in changes
    assert "- updated stuff, WIP (`" in changes  # malformed: kept, under Other
    assert "drop the v0 routes **(breaking)**" in changes

    steps = _section(notes, "Migration steps")
    assert "DATA_DIR is now STATE_DIR" in steps
    assert "`fragrance-ai migrate` (new: `0008_state_dir`)" in steps
    assert "fragrance-ai db restore" in _section(notes, "Rollback procedure")
    assert "- [ ] #12 is fixed (**parser:** read Korean notes" in _section(
        notes, "Testing checklist"
    )
    references = _section(notes, "Issues and pull requests")
    assert re.search(r"^- #12: closed by `[0-9a-f]{7}`$", references, re.M)
    assert re.search(r"^- #45: pull request `[0-9a-f]{7}`$", references, re.M)
    assert _section(notes, "Contributors").split() == [
        "-", "Alice", "-", "Bob", "-", "carol", "-", "Dana", "Lee",
    ]  # fmt: skip


@pytest.mark.e2e
def test_auto_starts_at_the_last_tag_and_writes_the_file(repo: Path, tmp_path: Path) -> None:
    explicit = _release_notes(repo, "--from", "v0.1.0")
    assert explicit.returncode == 0, explicit.stderr
    output = tmp_path / "notes.md"

    result = _release_notes(repo, "--auto", "--output", str(output))

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {output}: release notes from 5 commits\n"
    assert output.read_text(encoding="utf-8") == explicit.stdout
    assert "# Fragrance AI unreleased (2026-03-06)" in explicit.stdout


@pytest.mark.e2e
def test_auto_after_tagging_the_release_still_starts_at_the_previous_tag(repo: Path) -> None:
    _git(repo, "tag", "v0.2.0")
    result = _release_notes(repo, "--auto")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Fragrance AI v0.2.0 (2026-03-06)\n")
    assert "5 commits after v0.1.0 up to HEAD" in result.stdout


@pytest.mark.e2e
def test_auto_without_a_tag_covers_the_whole_history(repo: Path) -> None:
    _git(repo, "tag", "-d", "v0.1.0")
    result = _release_notes(repo, "--auto")
    assert result.returncode == 0, result.stderr
    assert "6 commits from the first commit up to HEAD" in result.stdout
    assert "first commit (`" in _section(result.stdout, "Changes")
    assert "nothing to roll back to" in _section(result.stdout, "Rollback procedure")


@pytest.mark.e2e
def test_unknown_revision_is_one_line_and_exit_2(repo: Path) -> None:
    result = _release_notes(repo, "--from", "v9.9.9")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "unknown revision: 'v9.9.9'" in result.stderr


@pytest.mark.e2e
def test_outside_a_repository_is_one_line_and_exit_2(tmp_path: Path) -> None:
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    result = _release_notes(elsewhere, "--auto")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "not a git repository" in result.stderr


def test_the_tool_is_left_out_of_the_wheel() -> None:
    # setuptools' package discovery keeps the dotted names that match an `include` pattern.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert (ROOT / "tools" / "release_notes" / "__init__.py").is_file()
    for package in ("tools", "tools.release_notes"):
        assert not any(fnmatchcase(package, pattern) for pattern in include), package
    assert any(fnmatchcase("fragrance_ai", pattern) for pattern in include)

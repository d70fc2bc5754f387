"""`scripts/release-notes`: Markdown release notes for a range of this repository's history.

Runs in the current directory's repository. A bad range (unknown revision, not a repository)
is one line on stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.release_notes.history import HistoryError, Range, Repository
from tools.release_notes.notes import build_notes
from tools.release_notes.render import render_markdown

# Files added here in a range are schema migrations: they decide the upgrade and rollback steps.
MIGRATIONS_PATH = "fragrance_ai/db/migrations/versions"
PROG = "release-notes"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Markdown release notes from this repository's git history."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--from", dest="start", metavar="REV", help="the previous release; its commits excluded"
    )
    where.add_argument(
        "--auto",
        action="store_true",
        help="from the most recent tag reachable from --to (from the first commit if none)",
    )
    parser.add_argument("--to", dest="end", default="HEAD", metavar="REV", help="default HEAD")
    parser.add_argument(
        "--version",
        dest="release_version",
        help="the version in the heading (default: the --to tag, else 'unreleased')",
    )
    parser.add_argument("--output", type=Path, metavar="FILE", help="write here, not to stdout")


def run(args: argparse.Namespace) -> int:
    try:
        text, count = _notes(Path.cwd(), args)
        if args.output is None:
            sys.stdout.write(text)
        else:
            args.output.write_text(text, encoding="utf-8")
            print(f"wrote {args.output}: release notes from {count} commits")
    except HistoryError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(
            f"{PROG}: cannot write {args.output}: {error.strerror}",
            file=sys.stderr,
        )
        return 2
    return 0


def _notes(path: Path, args: argparse.Namespace) -> tuple[str, int]:
    repository = Repository(path)
    end_sha = repository.resolve(args.end)
    tag_at_end = _tag_at(repository, end_sha)
    if args.auto:
        start = _previous_tag(repository, end_sha, tagged=tag_at_end is not None)
        start_sha = None if start is None else repository.resolve(start)
    else:
        start = args.start
        start_sha = repository.resolve(start)
    # Commit ids from here on: a revision the user typed never reaches git as an argument.
    history = Range(start_sha, end_sha)
    commits = repository.commits(history)
    notes = build_notes(
        commits,
        version=args.release_version or tag_at_end or "unreleased",
        date=repository.date_of(end_sha)[:10],
        start=start,
        end=args.end,
        diff=repository.diff_summary(history, added_under=MIGRATIONS_PATH),
    )
    return render_markdown(notes), len(commits)


def _previous_tag(repository: Repository, end_sha: str, *, tagged: bool) -> str | None:
    if not tagged:
        return repository.latest_tag(end_sha)
    # The release commit is tagged already (notes made again after tagging): the notes are
    # for that tag, so they start from the tag before it.
    return repository.latest_tag(f"{end_sha}^") if repository.has_parent(end_sha) else None


def _tag_at(repository: Repository, end_sha: str) -> str | None:
    tag = repository.latest_tag(end_sha)
    return tag if tag is not None and repository.resolve(tag) == end_sha else None

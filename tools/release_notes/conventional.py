"""One commit message read as a Conventional Commit (https://www.conventionalcommits.org/en/v1.0.0/).

Pure text in, record out: no git, no I/O. Every message parses; one whose first line is not
`type(scope)!: description` keeps `type=None` and lands under "Other" in the notes, with its
footers and references still read (a prose message may close an issue or break something too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

# `type(scope)!: description`. The spec allows any noun as the type; which types get a
# category of their own is the notes' business, not the parser's.
_HEADER = re.compile(
    r"^(?P<type>[A-Za-z][A-Za-z0-9_-]*)"
    r"(?:\((?P<scope>[^()\r\n]*)\))?"
    r"(?P<bang>!)?"
    r": (?P<description>\S.*)$"
)
# A footer line: `Token: value` or `Token #value`; tokens use `-` for spaces, except the one
# spelled `BREAKING CHANGE` (the spec makes it, and only it, case-sensitive).
_FOOTER = re.compile(
    r"^(?P<token>BREAKING CHANGE|[A-Za-z][A-Za-z0-9-]*)(?P<sep>: | #)(?P<value>.*)$"
)
_BREAKING_TOKENS = frozenset({"BREAKING CHANGE", "BREAKING-CHANGE"})
_CLOSING_TOKENS = frozenset(
    {"close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved"}
)
_CO_AUTHOR_TOKEN = "co-authored-by"

# `Fixes #3`, `closes #3` in running text as well as in a footer.
_CLOSING_IN_TEXT = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)[:]?\s+#(\d+)\b", re.IGNORECASE
)
# `(#45)` at the end of a subject: what GitHub's squash merge appends, the pull request.
_PULL_REQUEST_SUFFIX = re.compile(r"\(#(\d+)\)\s*$")
# Any other `#12`, and the prose form our own history uses, `issue 11: ...`.
_HASH_REFERENCE = re.compile(r"(?<![\w&/])#(\d+)\b")
_ISSUE_WORD_REFERENCE = re.compile(r"\bissues? (\d+)\b", re.IGNORECASE)
_NAME_BEFORE_EMAIL = re.compile(r"^(?P<name>[^<]*?)\s*(?:<[^>]*>)?\s*$")


class ReferenceKind(Enum):
    CLOSES = "closes"
    PULL_REQUEST = "pull request"
    MENTIONS = "mentions"


@dataclass(frozen=True)
class Reference:
    number: int
    kind: ReferenceKind


@dataclass(frozen=True)
class Footer:
    token: str
    value: str


@dataclass(frozen=True)
class ParsedMessage:
    subject: str
    """The first line, as written."""
    type: str | None
    """Lower-cased Conventional Commit type; None when the subject is not one."""
    scope: str | None
    description: str
    """The subject without `type(scope)!: `; the whole subject for other messages."""
    breaking: bool
    body: str
    footers: tuple[Footer, ...]
    references: tuple[Reference, ...]

    @property
    def is_conventional(self) -> bool:
        return self.type is not None

    @property
    def migration_notes(self) -> tuple[str, ...]:
        """The texts of the `BREAKING CHANGE:` footers: what a user must do."""
        return tuple(f.value for f in self.footers if f.token in _BREAKING_TOKENS)

    @property
    def co_authors(self) -> tuple[str, ...]:
        names = []
        for footer in self.footers:
            if footer.token.lower() == _CO_AUTHOR_TOKEN:
                match = _NAME_BEFORE_EMAIL.match(footer.value)
                name = match["name"].strip() if match else footer.value.strip()
                if name:
                    names.append(name)
        return tuple(names)


def parse_message(message: str) -> ParsedMessage:
    lines = message.replace("\r\n", "\n").strip("\n").split("\n")
    subject = lines[0].strip() if lines else ""
    body_lines, footers = _split_footers(lines[1:])
    body = "\n".join(body_lines).strip("\n")
    header = _HEADER.match(subject)
    if header:
        kind: str | None = header["type"].lower()
        scope = (header["scope"] or "").strip() or None
        description = header["description"].strip()
        bang = header["bang"] is not None
    else:
        kind, scope, description, bang = None, None, subject, False
    breaking = bang or any(f.token in _BREAKING_TOKENS for f in footers)
    return ParsedMessage(
        subject=subject,
        type=kind,
        scope=scope,
        description=description,
        breaking=breaking,
        body=body,
        footers=footers,
        references=_references(subject, body, footers),
    )


def _split_footers(lines: list[str]) -> tuple[list[str], tuple[Footer, ...]]:
    """Body lines, then footers: the footers start at the first paragraph that opens with a
    footer line, and a footer's value runs on until the next footer line (spec, items 8-10)."""
    start = None
    for index, line in enumerate(lines):
        paragraph_start = index == 0 or not lines[index - 1].strip()
        if paragraph_start and _FOOTER.match(line):
            start = index
            break
    if start is None:
        return lines, ()
    footers: list[Footer] = []
    for line in lines[start:]:
        match = _FOOTER.match(line)
        if match:
            value = match["value"] if match["sep"] == ": " else "#" + match["value"]
            footers.append(Footer(match["token"], value))
        else:
            previous = footers[-1]
            footers[-1] = Footer(previous.token, f"{previous.value}\n{line}")
    return lines[:start], tuple(Footer(f.token, f.value.strip()) for f in footers)


def _references(subject: str, body: str, footers: tuple[Footer, ...]) -> tuple[Reference, ...]:
    found: dict[int, ReferenceKind] = {}

    def note(number: int, kind: ReferenceKind) -> None:
        # One entry per number, the strongest claim winning: closing > PR > mention.
        order = [ReferenceKind.MENTIONS, ReferenceKind.PULL_REQUEST, ReferenceKind.CLOSES]
        if number not in found or order.index(kind) > order.index(found[number]):
            found[number] = kind

    for footer in footers:
        numbers = [int(n) for n in _HASH_REFERENCE.findall(footer.value)]
        closing = footer.token.lower() in _CLOSING_TOKENS
        for number in numbers:
            note(number, ReferenceKind.CLOSES if closing else ReferenceKind.MENTIONS)
    pull_request = _PULL_REQUEST_SUFFIX.search(subject)
    if pull_request:
        note(int(pull_request[1]), ReferenceKind.PULL_REQUEST)
    for text in (subject, body):
        for number in _CLOSING_IN_TEXT.findall(text):
            note(int(number), ReferenceKind.CLOSES)
        for pattern in (_HASH_REFERENCE, _ISSUE_WORD_REFERENCE):
            for number in pattern.findall(text):
                note(int(number), ReferenceKind.MENTIONS)
    return tuple(Reference(number, kind) for number, kind in sorted(found.items()))

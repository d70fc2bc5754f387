"""`fragrance-ai keys create|list|revoke`: the API keys clients present (docs/security.md).

A new key is printed once, alone on stdout (so `key=$(fragrance-ai keys create ...)` works);
only its SHA-256 is stored, so a lost key is revoked and replaced, never recovered.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from fragrance_ai.db.api_keys import create_key, list_keys, revoke_key
from fragrance_ai.db.engine import create_database_engine, create_session_factory
from fragrance_ai.security.keys import Scope
from fragrance_ai.settings import Settings, mask_url

_NAME_MAX = 128

Sessions = sessionmaker[Session]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="keys_command", required=True)
    create = commands.add_parser("create", help="create a key and print it, once")
    create.add_argument("--name", required=True, help="who or what holds it (shown in list)")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=[scope.value for scope in Scope],
        help="what it may do; repeat for several (admin: everything)",
    )
    create.set_defaults(keys_action=_create)
    listing = commands.add_parser("list", help="every key, without secrets")
    listing.set_defaults(keys_action=_list)
    revoke = commands.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("key_id", help="the id `keys list` shows")
    revoke.set_defaults(keys_action=_revoke)


def run(settings: Settings, args: argparse.Namespace) -> int:
    action: Callable[[Sessions, argparse.Namespace], int] = args.keys_action
    engine = create_database_engine(settings.effective_database_url)
    try:
        return action(create_session_factory(engine), args)
    except SQLAlchemyError as error:
        where = mask_url(settings.effective_database_url)
        print(
            f"fragrance-ai keys: the database {where} cannot be used ({type(error).__name__}); "
            "is it reachable and migrated (`fragrance-ai migrate`)?",
            file=sys.stderr,
        )
        return 1
    finally:
        engine.dispose()


def _create(sessions: Sessions, args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not name or len(name) > _NAME_MAX:
        print(f"fragrance-ai keys: --name: 1 to {_NAME_MAX} characters", file=sys.stderr)
        return 2
    with sessions() as session:
        created = create_key(session, name, [Scope(scope) for scope in args.scope])
        scopes = ", ".join(created.row.scopes)
    print(created.token)
    print(
        f"key {created.row.id} ({name}; scopes: {scopes}) created. It is shown this once: "
        "store it now.",
        file=sys.stderr,
    )
    return 0


def _list(sessions: Sessions, _args: argparse.Namespace) -> int:
    with sessions() as session:
        rows = list_keys(session)
    if not rows:
        print("no API keys; create one with `fragrance-ai keys create --name NAME --scope read`")
        return 0
    lines = [("ID", "NAME", "SCOPES", "CREATED", "LAST USED", "REVOKED")]
    lines += [
        (
            row.id,
            row.name,
            ",".join(row.scopes),
            _when(row.created_at),
            _when(row.last_used_at),
            _when(row.revoked_at),
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in lines) for column in range(len(lines[0]))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    return 0


def _revoke(sessions: Sessions, args: argparse.Namespace) -> int:
    with sessions() as session:
        row = revoke_key(session, args.key_id)
        if row is None:
            print(f"fragrance-ai keys: no key {args.key_id}", file=sys.stderr)
            return 1
        revoked_at = _when(row.revoked_at)
    print(
        f"key {args.key_id} revoked at {revoked_at}; API processes that verified it within "
        "security.key_cache_ttl_s still accept it until that has passed"
    )
    return 0


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")

"""`fragrance-ai config show`: the effective configuration, secrets masked."""

from __future__ import annotations

import argparse
import json

from fragrance_ai.settings import Settings, public_view


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="config_command", required=True)
    show = commands.add_parser("show", help="print the effective config, secrets masked")
    show.set_defaults(handler=run_show)


def run_show(settings: Settings, _args: argparse.Namespace) -> int:
    print(json.dumps(public_view(settings), indent=2, sort_keys=True))
    return 0

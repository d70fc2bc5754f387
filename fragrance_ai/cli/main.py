"""The `fragrance-ai` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from fragrance_ai.cli import (
    config,
    db,
    dev,
    healthcheck,
    keys,
    migrate,
    serve,
    smoke,
    train,
    worker,
)
from fragrance_ai.db.schema_too_new import SchemaTooNew
from fragrance_ai.platform.logs import configure_logging
from fragrance_ai.settings import ConfigError, load_settings

log = logging.getLogger("fragrance_ai")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings)
        result: int = args.handler(settings, args)
        return result
    except ConfigError as error:
        print(f"fragrance-ai: configuration error: {error}", file=sys.stderr)
        return 2
    except SchemaTooNew as error:
        print(f"fragrance-ai: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fragrance-ai", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text, module in (
        ("serve", "run the HTTP API", serve),
        ("dev", "migrate, then run the API and both workers in one command", dev),
        ("worker", "run an RQ worker", worker),
        ("migrate", "bring the database schema up to date", migrate),
        ("healthcheck", "exit 0 when the API or a worker on this host is healthy", healthcheck),
        ("smoke", "check a part of the installation for real", smoke),
        ("train", "run one training run here (reward model, PPO), with progress", train),
        ("keys", "create, list and revoke API keys", keys),
        ("db", "back up the database, or restore a backup", db),
        ("config", "inspect the configuration", config),
    ):
        command = commands.add_parser(name, help=help_text)
        module.add_arguments(command)
        if module is not config:  # config's subcommands name their own handlers
            command.set_defaults(handler=module.run)
    return parser


if __name__ == "__main__":
    sys.exit(main())

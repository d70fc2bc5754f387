"""`fragrance-ai healthcheck api|worker KIND`: one exit code for container and systemd
health checks (the probes: fragrance_ai/platform/health_probes.py)."""

from __future__ import annotations

import argparse
import sys

from fragrance_ai.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("component", choices=["api", "worker"])
    parser.add_argument("kind", nargs="?", choices=["llm", "rl"], help="the worker's kind")
    parser.add_argument("--url", help="the API's /health URL (default from API_HOST/API_PORT)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from fragrance_ai.platform.health_probes import (
        api_is_healthy,
        default_api_url,
        worker_is_healthy,
    )
    from fragrance_ai.worker.main import WorkerKind

    if args.component == "api":
        healthy, detail = api_is_healthy(args.url or default_api_url(settings))
    elif args.kind is None:
        print("fragrance-ai: healthcheck worker needs a kind: llm or rl", file=sys.stderr)
        return 2
    else:
        healthy, detail = worker_is_healthy(settings, WorkerKind(args.kind))
    print(("healthy: " if healthy else "unhealthy: ") + detail)
    return 0 if healthy else 1

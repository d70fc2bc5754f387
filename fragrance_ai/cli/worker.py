"""`fragrance-ai worker llm|rl`: an RQ worker on its kind's queue (fragrance_ai/worker)."""

from __future__ import annotations

import argparse

from fragrance_ai.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["llm", "rl"], help="llm: llm_inference, rl: rl_training")
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument(
        "--queue",
        action="append",
        default=[],
        choices=["llm_inference", "rl_training"],
        help="work this queue instead of the kind's own; repeat for several",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    from fragrance_ai.db.schema_guard import refuse_unknown_schema_at_start
    from fragrance_ai.queue import QueueName
    from fragrance_ai.worker.main import WorkerKind, run_worker

    refuse_unknown_schema_at_start(settings)
    queues = [QueueName(name) for name in args.queue]
    run_worker(settings, WorkerKind(args.kind), burst=args.burst, queues=queues)
    return 0

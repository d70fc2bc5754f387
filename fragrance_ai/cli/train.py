"""`fragrance-ai train`: one training run in this process, with a progress bar and a summary.

The run is recorded exactly like one the API starts (its rows, checkpoints and rollbacks),
with trigger `cli`; a worker is not needed. Runs one at a time, as the API does.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from fragrance_ai.db.models import Job, JobStatus
from fragrance_ai.db.training import add_training_run, lock_training_runs, unfinished_training_run
from fragrance_ai.jobs.lifecycle import begin, fail, finish
from fragrance_ai.jobs.results import TrainingJobResult, stored
from fragrance_ai.platform.logs import job_context
from fragrance_ai.runtime import build_runtime
from fragrance_ai.settings import Settings
from fragrance_ai.training.start import draw_seed, training_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, help="the run's seed (drawn when omitted)")
    parser.add_argument("--user", help="learn one perfumer's preferences only")
    parser.add_argument("--updates", type=int, help="PPO updates (rl.ppo.total_updates)")
    parser.add_argument(
        "--drill-lr-spike-at",
        type=int,
        metavar="UPDATE",
        help="fault drill: multiply the learning rate by 1000 at this update, to see the "
        "automatic rollback",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    # torch comes with the trainer: not imported for `fragrance-ai --help`.
    from fragrance_ai.training.run import TrainingRefused, run_training

    drill = None
    if args.drill_lr_spike_at is not None:
        drill = {"lr_spike_at_update": args.drill_lr_spike_at}
    console = Console(stderr=True)
    runtime = build_runtime(settings)
    try:
        with runtime.sessions() as session:
            try:
                config = training_config(settings.rl, total_updates=args.updates, drill=drill)
            except ValidationError as error:
                problem = error.errors()[0]
                where = ".".join(str(part) for part in problem["loc"])
                print(f"fragrance-ai train: {where}: {problem['msg']}", file=sys.stderr)
                return 2
            # The same guard as the API's: one run at a time, across processes.
            lock_training_runs(session)
            busy = unfinished_training_run(session)
            if busy is not None:
                print(
                    f"fragrance-ai train: training run {busy.id} is {busy.status}; wait for it "
                    "to end",
                    file=sys.stderr,
                )
                return 1
            run_row = add_training_run(
                session,
                trigger="cli",
                seed=args.seed if args.seed is not None else draw_seed(),
                user_ref=args.user,
                config=config,
            )
            session.commit()
            job = session.get(Job, run_row.job_id)
            assert job is not None
            begin(job, "train_policy", 0.0)
            session.commit()
            total = run_row.config["ppo"]["total_updates"]
            with Progress(
                TextColumn("[bold]training[/] {task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} updates"),
                TimeRemainingColumn(),
                console=console,
            ) as progress:
                task = progress.add_task(f"run {run_row.id}", total=total)

                def advance(metrics: Any, _total: int) -> None:
                    progress.update(
                        task,
                        completed=metrics.update,
                        description=f"reward {metrics.reward:+.4f} kl {metrics.batch_kl:.4f}",
                    )

                try:
                    with job_context(str(job.id)):
                        finished = run_training(runtime, session, job, on_update=advance)
                except TrainingRefused as error:
                    fail(session, job, str(error))
                    print(f"fragrance-ai train: {error}", file=sys.stderr)
                    return 1
            job.result = stored(
                TrainingJobResult(training_run_id=finished.id, **(finished.metrics or {}))
            )
            finish(job, JobStatus.FINISHED)
            session.commit()
            Console().print(_summary(finished))
            return 0
    finally:
        runtime.close()


def _summary(run_row: Any) -> Table:
    metrics = run_row.metrics or {}
    reward_model = metrics.get("reward_model") or {}
    base = metrics.get("base_evaluation") or {}
    best = metrics.get("best_evaluation") or {}
    accuracy = reward_model.get("heldout_accuracy")
    table = Table(title=f"training run {run_row.id} (seed {run_row.seed})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("preferences", str(reward_model.get("preferences")))
    table.add_row(
        "reward model held-out accuracy",
        "n/a (too few pairs)" if accuracy is None else f"{accuracy:.3f}",
    )
    table.add_row("updates", str(metrics.get("updates")))
    table.add_row("rollbacks", str(metrics.get("rollbacks")))
    table.add_row("base policy evaluated return", f"{base.get('mean_return', float('nan')):+.4f}")
    table.add_row(
        "best checkpoint evaluated return", f"{best.get('mean_return', float('nan')):+.4f}"
    )
    table.add_row("decision", str(metrics.get("decision")))
    return table

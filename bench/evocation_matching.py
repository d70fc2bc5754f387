"""The evocation paraphrase matcher (fragrance_ai/llm/evocation_embedding.py): load time, time
per brief, and precision and recall on hand-labelled paraphrases and non-evocative sentences.

    .venv/bin/python -m bench.evocation_matching [--threshold T] [--margin M] [--sweep]

The labels are bench/data/evocation_paraphrases.yaml: English texts that describe an entry of
the evocation library without its phrases (each names the entries it paraphrases), and
sentences that evoke nothing (an empty list). `split: tune` texts set the shipped threshold
and margin; `split: held_out` texts were written apart and never used to choose them. Run it
in a fresh process: the load time includes importing torch and transformers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = Path(__file__).parent / "data" / "evocation_paraphrases.yaml"
SPLITS = ("tune", "held_out")


@dataclass(frozen=True)
class Labelled:
    text: str
    expect: frozenset[str]
    split: str
    # Entries a perfumer would accept as well: neither required nor counted against.
    also: frozenset[str] = frozenset()


def load_labels(path: Path = DEFAULT_PATH) -> list[Labelled]:
    entries: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["texts"]
    labels = [
        Labelled(
            entry["text"],
            frozenset(entry.get("expect") or ()),
            entry["split"],
            frozenset(entry.get("also") or ()),
        )
        for entry in entries
    ]
    unknown = {label.split for label in labels} - set(SPLITS)
    if unknown:
        raise ValueError(f"{path}: unknown split {sorted(unknown)}")
    return labels


@dataclass(frozen=True)
class Score:
    texts: int
    precision: float
    recall: float
    # Non-evocative texts in which something matched.
    false_alarms: int
    negatives: int
    misses: list[str]
    wrong: list[str]


def score(labels: list[Labelled], found: list[set[str]]) -> Score:
    tp = fp = fn = alarms = negatives = 0
    misses: list[str] = []
    wrong: list[str] = []
    for label, found_here in zip(labels, found, strict=True):
        got = found_here - label.also
        tp += len(got & label.expect)
        fp += len(got - label.expect)
        fn += len(label.expect - got)
        if not label.expect:
            negatives += 1
            alarms += bool(got)
        if label.expect - got:
            misses.append(f"{label.text!r}: wanted {sorted(label.expect - got)}")
        if got - label.expect:
            wrong.append(f"{label.text!r}: found {sorted(got - label.expect)}")
    return Score(
        texts=len(labels),
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / (tp + fn) if tp + fn else 1.0,
        false_alarms=alarms,
        negatives=negatives,
        misses=misses,
        wrong=wrong,
    )


def build(threshold: float | None, margin: float | None) -> tuple[Any, dict[str, float]]:
    """The shipped matcher built as a worker builds it, each stage timed."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    # Timed: a worker without a language model imports both here.
    import torch  # noqa: F401
    import transformers  # noqa: F401

    from fragrance_ai.domain.evocations import load_evocations
    from fragrance_ai.llm.evocation_embedding import (
        ParaphraseMatcher,
        SentenceEmbedder,
        locate_model,
    )
    from fragrance_ai.settings import load_settings

    timings["imports"] = time.perf_counter() - started
    settings = load_settings().llm.paraphrases
    with tempfile.TemporaryDirectory() as cache_dir:
        # A fresh cache: the first start unpacks the model, later ones find it unpacked.
        started = time.perf_counter()
        directory = locate_model(settings.model_path, Path(cache_dir))
        timings["unpacking"] = time.perf_counter() - started
        started = time.perf_counter()
        embedder = SentenceEmbedder(directory)
        timings["model"] = time.perf_counter() - started
    started = time.perf_counter()
    matcher = ParaphraseMatcher(
        embedder,
        load_evocations(),
        threshold=settings.threshold if threshold is None else threshold,
        margin=settings.margin if margin is None else margin,
        max_matches=settings.max_matches,
    )
    timings["matrix"] = time.perf_counter() - started
    return matcher, timings


def found_by(matcher: Any, labels: list[Labelled]) -> list[set[str]]:
    from fragrance_ai.domain.parser import DeterministicBriefParser

    parser = DeterministicBriefParser()
    return [found_in(matcher, parser.parse(label.text), label.text)[0] for label in labels]


def found_in(matcher: Any, brief: Any, text: str) -> tuple[set[str], float]:
    """As the reading does it (BriefEnsemble._paraphrase), after the literal reading `brief`:
    what it read, entries and words, is not a paraphrase's. Also the seconds it took."""
    from fragrance_ai.domain.evocations import match_literal

    started = time.perf_counter()
    literal = {match.evocation.id for match in match_literal(text, matcher.library)}
    outcome = matcher.match(
        text, exclude=literal | set(brief.evocations), unread=set(brief.unread_words)
    )
    seconds = time.perf_counter() - started
    return {match.evocation.id for match in outcome.matches}, seconds


def print_scores(labels: list[Labelled], found: list[set[str]]) -> None:
    print("| split | texts | precision | recall | non-evocative texts with a match |")
    print("| --- | --- | --- | --- | --- |")
    for split in (*SPLITS, "all"):
        picked = [i for i, label in enumerate(labels) if split in ("all", label.split)]
        result = score([labels[i] for i in picked], [found[i] for i in picked])
        print(
            f"| {split} | {result.texts} | {result.precision:.2f} | {result.recall:.2f} | "
            f"{result.false_alarms} of {result.negatives} |"
        )
        if split == "all":
            for line in result.misses:
                print(f"  missed  {line}")
            for line in result.wrong:
                print(f"  wrong   {line}")


def print_sweep(matcher: Any, labels: list[Labelled]) -> None:
    tune = [label for label in labels if label.split == "tune"]
    margins = (0.0, 0.05, 0.1, 0.15, 0.2)
    print("\nsweep, tune split: precision / recall")
    print("| threshold | " + " | ".join(f"margin {m:g}" for m in margins) + " |")
    print("| --- |" + " --- |" * len(margins))
    for threshold in (0.35, 0.4, 0.45, 0.5, 0.55, 0.6):
        cells = []
        for margin in margins:
            matcher.threshold, matcher.margin = threshold, margin
            result = score(tune, found_by(matcher, tune))
            cells.append(f"{result.precision:.2f} / {result.recall:.2f}")
        print(f"| {threshold:g} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--threshold", type=float, help="default: llm.paraphrases.threshold")
    parser.add_argument("--margin", type=float, help="default: llm.paraphrases.margin")
    parser.add_argument("--sweep", action="store_true", help="also a grid of both, tune split")
    args = parser.parse_args(argv)

    matcher, timings = build(args.threshold, args.margin)
    import torch

    from fragrance_ai.domain.parser import DeterministicBriefParser

    literal_reader = DeterministicBriefParser()
    labels = load_labels(args.labels)
    found: list[set[str]] = []
    ms: list[float] = []
    for label in labels:
        got, seconds = found_in(matcher, literal_reader.parse(label.text), label.text)
        found.append(got)
        ms.append(1000 * seconds)
    ms.sort()

    print(f"library: {len(matcher.library)} evocations, {len(matcher.texts)} texts embedded")
    print(f"torch threads: {torch.get_num_threads()}")
    print(
        f"load: imports {timings['imports']:.2f} s, unpacking (first start only) "
        f"{timings['unpacking']:.2f} s, model {timings['model']:.2f} s, "
        f"library matrix {timings['matrix']:.2f} s"
    )
    print(
        f"per brief ({len(ms)} texts): median {statistics.median(ms):.1f} ms, "
        f"p90 {ms[int(0.9 * (len(ms) - 1))]:.1f} ms"
    )
    print(f"threshold {matcher.threshold:g}, margin {matcher.margin:g}")
    print_scores(labels, found)
    if args.sweep:
        print_sweep(matcher, labels)
    return 0


if __name__ == "__main__":
    sys.exit(main())

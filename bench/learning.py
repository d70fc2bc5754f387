"""Sample efficiency of learning from choices: hidden tastes x seeds x budgets x methods.

    .venv/bin/python -m bench.learning [--tastes woody-not-sweet no-musks heavier-base]
        [--seeds 1 2 3 4 5] [--budgets 10 30 100] [--methods random best-of-n best-of-all
        ppo product best-of-n-by-taste oracle] [--pairs 96] [--best-of 8] [--pessimism 0]
        [--reward-model KEY=JSON ...] [--json FILE]

(`--tastes many-sided` runs a fourth taste, of six features: beyond the sparse prior's one or two.)
A simulated perfumer (bench/perfumer.py) with a hidden taste makes `budget` choices among
variations of the brief options (bench/learning_session.py: the product's code, in-process).
Then each method proposes one edit for the same parents and draws, and the perfumer judges
it blind against the initial policy's proposal for the same parent and draw:

- random: an edit drawn uniformly among the allowed ones. The initial policy is exactly
  this, so it measures the yardstick itself (about 50 %, and no taste change beyond it).
- best-of-n: the initial policy's first `--best-of` candidates for the same draw (the
  initial proposal among them), the one the reward model fitted on the choices scores
  highest; no policy training. With `--pessimism k`, the ensemble's mean less k times its
  members' spread (here and in best-of-all).
- best-of-all (a diagnostic): every allowed edit (the oracle's), the one the reward model
  scores highest: the limit of the reward model itself, whatever proposes the candidates.
- ppo: the product's training run (reward model, PPO, checkpoints, rollback, activation)
  and its proposal as the API would serve it with `rl.proposals: policy`: the activated
  policy, or the initial one when the run kept it, with the reward ensemble's exploration
  bonus.
- product: what ships. Its own session, asked as the API asks: the reward model refitted
  after every choice (training/reward_models.py) ranks the next question's variations
  (`rl.proposals: reward_model`: its mean's best, then its posterior draws' best); then
  the first variation it would serve for each pair. The methods above learn from a
  session whose questions the initial policy asked, with no refit between choices.
- best-of-n-by-taste (a diagnostic): best-of-n's candidates ranked by the hidden taste
  itself: the limit of reranking 8 candidates of the initial policy, whatever the reward
  model.
- oracle: knows the taste; the best of every allowed edit after repair. The reference for
  how far towards the taste one edit can go, and the ceiling of the preferred share.

Per cell: the share of blind pairs the perfumer prefers with a Wilson 95 % interval, the
mean taste change per proposal (points: percent of the concentrate moved towards the
taste), the initial policy's on the same pairs, and the method's as a fraction of the
oracle's. random, best-of-n-by-taste and oracle learn nothing, so they have no budget. A
run "moves the wrong way" when its proposals change the taste less than the initial
policy's on the same pairs. `--reward-model` changes the product's reward model settings
(rl.reward_model) for the run as a profile would, e.g. `l2=0.1` or
`standardise="differences"`.
Everything is seeded: the same arguments print the same tables; only the compute seconds,
printed apart, vary.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from bench.learning_session import (
    Session,
    StoredFormula,
    Trained,
    brief_options,
    fit_reward,
    run_session,
    train_policy,
)
from bench.perfumer import BRIEFS, MANY_SIDED, TASTES, Taste, bradley_terry_choice
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.rl.actions import action_count
from fragrance_ai.rl.exported import ExportedPolicy, ExportedReward
from fragrance_ai.rl.features import reward_features
from fragrance_ai.rl.fitted_reward import FittedReward
from fragrance_ai.rl.materials import MaterialTable, Vector, material_table
from fragrance_ai.rl.proposals import propose_variations
from fragrance_ai.settings import RewardModelSettings, RLSettings

METHODS = (
    "random",
    "best-of-n",
    "best-of-all",
    "ppo",
    "product",
    "best-of-n-by-taste",
    "oracle",
)
LEARNING = ("best-of-n", "best-of-all", "ppo", "product")
BUDGETS = (10, 30, 100)
SEEDS = (1, 2, 3, 4, 5)
PAIRS = 96
BEST_OF = 8
SHARPNESS = 100.0
GOAL_SHARE = 0.85
GOAL_OF_ORACLE = 0.5
GOAL_BUDGET = 30
Z_95 = 1.959964


@functools.cache
def parents() -> tuple[StoredFormula, ...]:
    """The brief options every cell varies, designed once per process."""
    catalogue = load_catalogue()
    return tuple(brief_options(catalogue, material_table(catalogue)))


def slug(taste: Taste) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in taste.name).split())


TASTES_BY_SLUG = {slug(taste): taste for taste in (*TASTES, MANY_SIDED)}
# The three kinds of taste; many-sided only when asked for (--tastes).
DEFAULT_TASTES = tuple(slug(taste) for taste in TASTES)


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    if trials == 0:
        return math.nan, math.nan
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (z / (1 + z * z / trials)) * math.sqrt(
        share * (1 - share) / trials + z * z / (4 * trials * trials)
    )
    return centre - half, centre + half


@dataclass(frozen=True)
class Cell:
    taste: str
    seed: int
    # None for the methods that learn nothing.
    budget: int | None
    method: str
    pairs: int
    preferred: int
    # Mean taste change per proposal, in points; the initial policy's and the oracle's on
    # the same pairs.
    gain: float
    initial_gain: float
    oracle_gain: float
    heldout_accuracy: float | None
    note: str
    seconds: float

    @property
    def share(self) -> float:
        return self.preferred / self.pairs

    @property
    def of_oracle(self) -> float:
        return self.gain / self.oracle_gain if self.oracle_gain > 1e-9 else math.nan

    @property
    def wrong_way(self) -> bool:
        """A learning method whose proposals change the taste less than the initial
        policy's on the same pairs (random and oracle learn nothing to go wrong)."""
        return self.method in LEARNING and self.gain < self.initial_gain

    def as_dict(self) -> dict[str, object]:
        low, high = wilson(self.preferred, self.pairs)
        return {
            **asdict(self),
            "share": self.share,
            "ci95": [low, high],
            "of_oracle": self.of_oracle,
            "wrong_way": self.wrong_way,
        }


@dataclass(frozen=True)
class Pair:
    """One blind comparison: a parent (and its place among the options) and the seed of
    the draws made for it."""

    index: int
    parent: StoredFormula
    seed: int


def measurement_pairs(options: list[StoredFormula], count: int, seed: int) -> list[Pair]:
    """Every option in turn as the parent, each time with a new draw."""
    rng = np.random.default_rng([seed, 0x9A1])
    return [
        Pair(k % len(options), options[k % len(options)], int(rng.integers(2**31)))
        for k in range(count)
    ]


def _first(
    table: MaterialTable,
    pair: Pair,
    *,
    policy: ExportedPolicy | None = None,
    reward: ExportedReward | None = None,
    exploration: float = 0.0,
    rank: Literal["reward_model", "policy"] = "policy",
) -> Vector:
    """The first variation proposed for the pair's draw; the parent itself when none is."""
    proposals = propose_variations(
        table,
        pair.parent.formula,
        pair.parent.context,
        count=1,
        rng=np.random.default_rng(pair.seed),
        policy=policy,
        reward=reward,
        exploration=exploration,
        rank=rank,
    )
    return table.vector_of(proposals[0].formula) if proposals else pair.parent.amounts


def initial_proposal(table: MaterialTable, pair: Pair) -> Vector:
    """As the API on a fresh installation: the uniform policy, no reward model."""
    return _first(table, pair)


def random_proposal(table: MaterialTable, pair: Pair) -> Vector:
    # Another draw from the same uniform policy, independent of the initial one.
    return _first(table, Pair(pair.index, pair.parent, pair.seed ^ 0x5EED))


def best_of_n_proposal(
    table: MaterialTable, pair: Pair, reward: ExportedReward, n: int, pessimism: float
) -> Vector:
    candidates = propose_variations(
        table,
        pair.parent.formula,
        pair.parent.context,
        count=n,
        rng=np.random.default_rng(pair.seed),
    )
    if not candidates:
        return pair.parent.amounts
    stored = [StoredFormula.of(table, c.formula, pair.parent.context) for c in candidates]
    features = np.stack([s.reward_features(table) for s in stored])
    return stored[int(np.argmax(_ranked(reward, features, pessimism)))].amounts


def best_of_n_by_taste_proposal(
    table: MaterialTable, pair: Pair, weights: Vector, n: int
) -> Vector:
    """The same candidates as best-of-n, ranked by the hidden taste itself: how far
    reranking the initial policy's candidates could go with a perfect reward model."""
    candidates = propose_variations(
        table,
        pair.parent.formula,
        pair.parent.context,
        count=n,
        rng=np.random.default_rng(pair.seed),
    )
    if not candidates:
        return pair.parent.amounts
    amounts = np.stack([table.vector_of(c.formula) for c in candidates])
    return np.asarray(amounts[int(np.argmax(amounts @ weights))])


def best_of_all_proposal(
    table: MaterialTable, pair: Pair, oracle: Oracle, reward: ExportedReward, pessimism: float
) -> Vector:
    """Every allowed edit (the oracle's), ranked by the reward model: how far the reward
    model itself could go with every candidate in front of it."""
    variations = oracle.variations(pair)
    repeat = variations.shape[0]
    context = pair.parent.context
    features = reward_features(
        table,
        variations,
        np.repeat(context.family_target[None, :], repeat, axis=0),
        np.repeat(context.tier_targets[None, :], repeat, axis=0),
    )
    return np.asarray(variations[int(np.argmax(_ranked(reward, features, pessimism)))])


def _ranked(reward: ExportedReward, features: Vector, pessimism: float) -> Vector:
    """The ensemble's mean score less `pessimism` times its members' spread."""
    return np.asarray(reward.score(features) - pessimism * reward.uncertainty(features))


def product_proposal(
    table: MaterialTable, pair: Pair, fitted: FittedReward, config: RLSettings
) -> Vector:
    """As the API serves the first variation after the session's choices: every allowed
    edit ranked by the reward model refitted after the last choice."""
    return _first(table, pair, reward=fitted.model, rank=config.proposals)


def ppo_proposal(table: MaterialTable, pair: Pair, trained: Trained, config: RLSettings) -> Vector:
    return _first(
        table,
        pair,
        policy=trained.policy,
        reward=trained.fitted.model,
        exploration=config.exploration,
        rank="policy",
    )


class Oracle:
    """The best allowed edit of each parent on the taste, after repair: every compliant
    variation the product's proposals can reach, worked out once per parent. An edit even
    when none helps, as the other methods propose one; the parent only when none exists."""

    def __init__(self, table: MaterialTable) -> None:
        self.table = table
        self._variations: dict[int, Vector] = {}
        # Seconds spent working out each parent's variations (once, whichever cell asked).
        self._seconds: dict[int, float] = {}

    def seconds(self, pairs: list[Pair]) -> float:
        """What finding the best edit for these pairs costs, the search included."""
        return sum(self._seconds.get(index, 0.0) for index in {pair.index for pair in pairs})

    def proposal(self, pair: Pair, weights: Vector) -> Vector:
        variations = self.variations(pair)
        return np.asarray(variations[int(np.argmax(variations @ weights))])

    def variations(self, pair: Pair) -> Vector:
        """Every allowed edit of the pair's parent after repair (variations x materials)."""
        key = pair.index
        if key not in self._variations:
            started = time.perf_counter()
            everything = propose_variations(
                self.table,
                pair.parent.formula,
                pair.parent.context,
                count=action_count(self.table),
                rng=np.random.default_rng(0),
            )
            self._variations[key] = np.stack(
                [self.table.vector_of(p.formula) for p in everything] or [pair.parent.amounts]
            )
            self._seconds[key] = time.perf_counter() - started
        return self._variations[key]


@dataclass
class Bench:
    """What stays the same across cells: the catalogue's table, the parents, the pairs and
    the initial policy's proposals per seed."""

    table: MaterialTable
    options: list[StoredFormula]
    config: RLSettings
    pairs_per_cell: int
    best_of: int
    sharpness: float
    oracle: Oracle
    # Reranking by the ensemble's mean less this many times its spread (0: the mean).
    pessimism: float
    _initial: dict[int, tuple[list[Pair], list[Vector]]]

    def pairs(self, seed: int) -> tuple[list[Pair], list[Vector]]:
        if seed not in self._initial:
            pairs = measurement_pairs(self.options, self.pairs_per_cell, seed)
            self._initial[seed] = (pairs, [initial_proposal(self.table, p) for p in pairs])
        return self._initial[seed]

    def session(
        self, taste: Taste, seed: int, choices: int, *, asking: RLSettings | None = None
    ) -> Session:
        """The perfumer's session of `choices` choices (bench/learning_session.run_session)."""
        return run_session(
            self.table,
            self.options,
            taste,
            self.taste_weights(taste),
            choices=choices,
            seed=seed,
            sharpness=self.sharpness,
            asking=asking,
        )

    def taste_weights(self, taste: Taste) -> Vector:
        """The taste per percent of each material: a formula's taste is amounts @ this / 100."""
        return np.array([taste.weight(m) for m in self.table.materials])

    def judge(
        self,
        taste: Taste,
        seed: int,
        budget: int | None,
        method: str,
        propose: Callable[[Pair], Vector],
        *,
        started: float,
        extra_seconds: float = 0.0,
        heldout_accuracy: float | None = None,
        note: str = "",
    ) -> Cell:
        """The method's proposals against the initial policy's, judged blind by the perfumer."""
        weights = self.taste_weights(taste)
        pairs, initial = self.pairs(seed)
        proposed = [propose(pair) for pair in pairs]
        seconds = time.perf_counter() - started + extra_seconds
        choice_seed = zlib.crc32(f"{taste.name}|{method}|{budget}".encode())
        rng = np.random.default_rng([seed, choice_seed])
        preferred, gains, initial_gains, oracle_gains = 0, [], [], []
        for pair, mine, theirs in zip(pairs, proposed, initial, strict=True):
            parent = float(pair.parent.amounts @ weights)
            mine_taste, theirs_taste = float(mine @ weights), float(theirs @ weights)
            picked = bradley_terry_choice(
                [mine_taste / 100, theirs_taste / 100], rng, self.sharpness
            )
            preferred += picked == 0
            gains.append(mine_taste - parent)
            initial_gains.append(theirs_taste - parent)
            oracle_gains.append(float(self.oracle.proposal(pair, weights) @ weights) - parent)
        # amounts @ weights is the taste in points already (percent x weight per percent).
        return Cell(
            taste=taste.name,
            seed=seed,
            budget=budget,
            method=method,
            pairs=len(pairs),
            preferred=preferred,
            gain=float(np.mean(gains)),
            initial_gain=float(np.mean(initial_gains)),
            oracle_gain=float(np.mean(oracle_gains)),
            heldout_accuracy=heldout_accuracy,
            note=note,
            seconds=seconds,
        )


def run_taste_seed(
    bench: Bench, taste: Taste, seed: int, budgets: Sequence[int], methods: Sequence[str]
) -> list[Cell]:
    table, cells = bench.table, []
    if "random" in methods:
        cells.append(
            bench.judge(
                taste,
                seed,
                None,
                "random",
                lambda pair: random_proposal(table, pair),
                started=time.perf_counter(),
            )
        )
    if "best-of-n-by-taste" in methods:
        cells.append(
            bench.judge(
                taste,
                seed,
                None,
                "best-of-n-by-taste",
                functools.partial(
                    best_of_n_by_taste_proposal,
                    table,
                    weights=bench.taste_weights(taste),
                    n=bench.best_of,
                ),
                started=time.perf_counter(),
            )
        )
    if "oracle" in methods or "best-of-all" in methods:
        weights = bench.taste_weights(taste)
        pairs, _ = bench.pairs(seed)
        for pair in pairs:
            bench.oracle.proposal(pair, weights)  # the search, timed per parent inside
    if "oracle" in methods:
        cells.append(
            bench.judge(
                taste,
                seed,
                None,
                "oracle",
                lambda pair: bench.oracle.proposal(pair, weights),
                started=time.perf_counter(),
                extra_seconds=bench.oracle.seconds(pairs),
            )
        )
    if "product" in methods:
        cells.extend(_product_cells(bench, taste, seed, budgets))
    if not any(method in LEARNING and method != "product" for method in methods):
        return cells
    session = bench.session(taste, seed, max(budgets))
    for budget in budgets:
        stored, variations = session.first(budget)
        started = time.perf_counter()
        fitted = fit_reward(table, stored, bench.config, seed)
        fit_seconds = time.perf_counter() - started
        accuracy = fitted.heldout_accuracy
        # With candidates, the L2 that cross-validation chose.
        chosen_l2 = f", L2 {fitted.l2:g}" if bench.config.reward_model.l2_candidates else ""
        agreement = f", the taste agrees with {session.taste_agreement(budget):.0%}"
        if "best-of-n" in methods:
            cells.append(
                bench.judge(
                    taste,
                    seed,
                    budget,
                    "best-of-n",
                    functools.partial(
                        best_of_n_proposal,
                        table,
                        reward=fitted.model,
                        n=bench.best_of,
                        pessimism=bench.pessimism,
                    ),
                    started=time.perf_counter(),
                    extra_seconds=fit_seconds,
                    heldout_accuracy=accuracy,
                    note=f"{fitted.pairs} preferences" + agreement + chosen_l2,
                )
            )
        if "best-of-all" in methods:
            cells.append(
                bench.judge(
                    taste,
                    seed,
                    budget,
                    "best-of-all",
                    functools.partial(
                        best_of_all_proposal,
                        table,
                        oracle=bench.oracle,
                        reward=fitted.model,
                        pessimism=bench.pessimism,
                    ),
                    started=time.perf_counter(),
                    extra_seconds=fit_seconds + bench.oracle.seconds(bench.pairs(seed)[0]),
                    heldout_accuracy=accuracy,
                    note=f"{fitted.pairs} preferences" + agreement + chosen_l2,
                )
            )
        if "ppo" in methods:
            started = time.perf_counter()
            trained = train_policy(table, bench.options + variations, fitted, bench.config, seed)
            cells.append(
                bench.judge(
                    taste,
                    seed,
                    budget,
                    "ppo",
                    functools.partial(ppo_proposal, table, trained=trained, config=bench.config),
                    started=started,
                    extra_seconds=fit_seconds,
                    heldout_accuracy=accuracy,
                    note=("activated" if trained.policy is not None else "kept initial")
                    + (f", {trained.rollbacks} rollbacks" if trained.rollbacks else ""),
                )
            )
    return cells


def _product_cells(bench: Bench, taste: Taste, seed: int, budgets: Sequence[int]) -> list[Cell]:
    """The product as it ships: questions asked with the reward model refitted after every
    choice, and the first variation ranked by it."""
    session = bench.session(taste, seed, max(budgets), asking=bench.config)
    assert session.refits is not None
    assert session.refit_seconds is not None
    cells = []
    for budget in budgets:
        fitted = session.refits[budget - 1]
        cells.append(
            bench.judge(
                taste,
                seed,
                budget,
                "product",
                functools.partial(
                    product_proposal, bench.table, fitted=fitted, config=bench.config
                ),
                started=time.perf_counter(),
                extra_seconds=sum(session.refit_seconds[:budget]),
                heldout_accuracy=fitted.heldout_accuracy,
                note=f"{fitted.pairs} preferences, the taste agrees with "
                f"{session.taste_agreement(budget):.0%}",
            )
        )
    return cells


# ------------------------------------------------------------------------------ tables


def _budget(cell: Cell) -> str:
    return "-" if cell.budget is None else str(cell.budget)


def _order(cell: Cell) -> tuple[int, int, int]:
    return (METHODS.index(cell.method), cell.budget or 0, cell.seed)


def cells_table(cells: list[Cell]) -> list[str]:
    lines = [
        "| taste | seed | choices | method | pairs | preferred | 95 % CI | taste change "
        "(points) | initial's | of oracle | RM held-out acc. | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in cells:
        low, high = wilson(cell.preferred, cell.pairs)
        accuracy = "-" if cell.heldout_accuracy is None else f"{cell.heldout_accuracy:.2f}"
        note = ", ".join(filter(None, [cell.note, "WRONG WAY" if cell.wrong_way else ""]))
        lines.append(
            f"| {cell.taste} | {cell.seed} | {_budget(cell)} | {cell.method} | {cell.pairs} | "
            f"{cell.share:.0%} | {low:.0%}-{high:.0%} | {cell.gain:+.2f} | "
            f"{cell.initial_gain:+.2f} | {cell.of_oracle:.2f} | {accuracy} | {note} |"
        )
    return lines


def summary_table(cells: list[Cell]) -> list[str]:
    """Pooled over seeds: the pairs of every seed together, the worst seed's share, the
    mean fraction of the oracle and the runs that moved the wrong way."""
    lines = [
        "| taste | choices | method | seeds | preferred (pooled) | 95 % CI | worst seed "
        "| taste change (points) | of oracle | wrong way |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str, str], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell.taste, _budget(cell), cell.method), []).append(cell)
    for (taste, budget, method), group in groups.items():
        preferred = sum(c.preferred for c in group)
        pairs = sum(c.pairs for c in group)
        low, high = wilson(preferred, pairs)
        lines.append(
            f"| {taste} | {budget} | {method} | {len(group)} | {preferred / pairs:.0%} | "
            f"{low:.0%}-{high:.0%} | {min(c.share for c in group):.0%} | "
            f"{np.mean([c.gain for c in group]):+.2f} | "
            f"{np.mean([c.of_oracle for c in group]):.2f} | "
            + (f"{sum(c.wrong_way for c in group)}/{len(group)} |" if method in LEARNING else "- |")
        )
    return lines


def goal_lines(cells: list[Cell]) -> list[str]:
    """Issue 27's goal per method after `GOAL_BUDGET` choices (random and oracle, which
    learn nothing, are judged as they stand)."""
    lines = []
    for method in METHODS:
        group = [c for c in cells if c.method == method and c.budget in (None, GOAL_BUDGET)]
        if not group:
            continue
        shares = sum(c.share >= GOAL_SHARE for c in group)
        far = sum(c.of_oracle >= GOAL_OF_ORACLE for c in group)
        wrong = sum(c.wrong_way for c in group)
        met = shares == far == len(group) and wrong == 0
        lines.append(
            f"goal at {GOAL_BUDGET} choices, {method}: {'met' if met else 'NOT met'} "
            f"(>= {GOAL_SHARE:.0%} preferred in {shares}/{len(group)} runs, >= "
            f"{GOAL_OF_ORACLE:.0%} of the oracle's change in {far}/{len(group)}"
            + (f", {wrong} wrong way)" if method in LEARNING else ")")
        )
    return lines


WHAT_IS_TIMED = {
    "random": "the proposals",
    "best-of-n": "fitting the reward model and the proposals",
    "best-of-all": "fitting the reward model, every allowed edit repaired, and the proposals",
    "best-of-n-by-taste": "the proposals",
    "ppo": "fitting the reward model, the training run and the proposals",
    "product": "refitting the reward model after every choice, and the proposals",
    "oracle": "every allowed edit repaired and scored, and the proposals",
}


def compute_lines(cells: list[Cell]) -> list[str]:
    lines = []
    for method in METHODS:
        for budget in sorted({c.budget or 0 for c in cells if c.method == method}):
            group = [c for c in cells if c.method == method and (c.budget or 0) == budget]
            label = f"{method} after {budget} choices" if budget else method
            lines.append(
                f"  {label}: {np.mean([c.seconds for c in group]):.2f} s per run, mean of "
                f"{len(group)} ({WHAT_IS_TIMED[method]}, {group[0].pairs} pairs)"
            )
    return lines


# ------------------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> list[Cell]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tastes", nargs="+", choices=list(TASTES_BY_SLUG), default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--budgets", nargs="+", type=int, default=list(BUDGETS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--pairs", type=int, default=PAIRS, help="blind pairs per cell")
    parser.add_argument("--best-of", type=int, default=BEST_OF)
    parser.add_argument(
        "--pessimism",
        type=float,
        default=0.0,
        help="rerank by the reward ensemble's mean less this many times its spread",
    )
    parser.add_argument(
        "--reward-model",
        nargs="*",
        default=[],
        metavar="KEY=JSON",
        help="the reward model's settings to change (rl.reward_model), e.g. l2=0.1 "
        "l2_candidates=[0.001,0.1]",
    )
    parser.add_argument("--sharpness", type=float, default=SHARPNESS)
    parser.add_argument("--json", type=Path, default=None, help="also write every cell here")
    args = parser.parse_args(argv)
    tastes = [TASTES_BY_SLUG[name] for name in args.tastes or DEFAULT_TASTES]
    methods = [m for m in METHODS if m in args.methods]
    budgets = sorted(set(args.budgets))

    # One thread: the same figures on any machine (torch's reductions depend on the thread
    # count), and a network this small gains nothing from more; on a loaded 2-core machine
    # two threads made PPO nine times slower (OpenMP threads waiting on each other).
    torch.set_num_threads(1)
    started = time.perf_counter()
    table = material_table(load_catalogue())
    options = list(parents())
    config = RLSettings()
    if args.reward_model:
        changes = dict(item.split("=", 1) for item in args.reward_model)
        config = config.model_copy(
            update={
                "reward_model": RewardModelSettings.model_validate(
                    config.reward_model.model_dump()
                    | {key: json.loads(value) for key, value in changes.items()}
                )
            }
        )
    bench = Bench(
        table,
        options,
        config,
        args.pairs,
        args.best_of,
        args.sharpness,
        Oracle(table),
        args.pessimism,
        {},
    )
    print(
        f"learning: tastes {[t.name for t in tastes]}, seeds {args.seeds}, choices {budgets}, "
        f"methods {methods}; {len(options)} parents (the optimiser's options for "
        f"{len(BRIEFS)} briefs), {args.pairs} blind "
        f"pairs a cell, best of {args.best_of}, sharpness {args.sharpness:g}; PPO "
        f"{config.ppo.total_updates} updates x {config.ppo.num_envs} x {config.ppo.num_steps}"
        f" steps, exploration {config.exploration:g}; reward model "
        f"{config.reward_model.model_dump(mode='json')}, reranking pessimism "
        f"{args.pessimism:g}",
        flush=True,
    )
    cells: list[Cell] = []
    for taste in tastes:
        for seed in args.seeds:
            cells.extend(run_taste_seed(bench, taste, seed, budgets, methods))
            print(f"  done: {taste.name}, seed {seed}", flush=True)
    taste_order = {taste.name: index for index, taste in enumerate(tastes)}
    cells.sort(key=lambda c: (taste_order[c.taste], *_order(c)))
    print("\n".join(["", *cells_table(cells), "", *summary_table(cells), "", *goal_lines(cells)]))
    print("\ncompute (wall-clock seconds, which vary between runs; the tables above do not):")
    print("\n".join(compute_lines(cells)))
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "arguments": vars(args) | {"json": str(args.json)},
                    "cells": [c.as_dict() for c in cells],
                },
                indent=2,
            )
        )
    return cells


if __name__ == "__main__":
    main()

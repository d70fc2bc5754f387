"""The product's learning driven in-process for bench/learning.py: a simulated perfumer's
session of choices among variations, and a training run as training/run.py makes one, with
no HTTP and no database.

Every step is the product's own code. The questions come from `propose_variations` with
the initial, uniform policy and no reward model, as on a fresh installation that refits
nothing between training runs; or, for the method that ships, as the API asks them, with
the reward model refitted after every choice (`run_session`'s `asking`). Each answer
stores the chosen formula's preference over every other one offered, the parent included
(the API offers it by default). The training follows training/run.py's `_train` step by
step: `fit_reward_model`, the reward standardised over the stored formulas (`_standardised`,
imported from there), a quarter of the stored formulas (at most rl.eval_formulas) held out
to evaluate on, a fresh agent, `run_updates` with its checkpoints and rollbacks, and the
best checkpoint activated only when its evaluated return beats the initial policy's. Left
out is only what needs the database or disk: rows, files, metrics and TensorBoard.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bench.perfumer import BRIEFS, Taste, bradley_terry_choice
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.formula import Formula
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.optimize.design import design_options
from fragrance_ai.optimize.evaluate import Objective
from fragrance_ai.optimize.search import SearchConfig
from fragrance_ai.rl.actions import action_names
from fragrance_ai.rl.checkpoints import encode_checkpoint
from fragrance_ai.rl.environment import FormulaEnv, Start
from fragrance_ai.rl.evaluation import Evaluation, evaluate_policy
from fragrance_ai.rl.exported import ExportedPolicy, ExportedReward
from fragrance_ai.rl.features import (
    BriefContext,
    reward_feature_names,
    reward_features,
    state_feature_names,
)
from fragrance_ai.rl.fitted_reward import FittedReward
from fragrance_ai.rl.loop import run_updates
from fragrance_ai.rl.materials import MaterialTable, Vector
from fragrance_ai.rl.ppo import Agent, PPOTrainer, UpdateMetrics, build_agent
from fragrance_ai.rl.proposals import propose_variations
from fragrance_ai.rl.reward_model import fit_reward_model
from fragrance_ai.rl.weights_file import decode
from fragrance_ai.settings import InferenceMode, RLSettings, Settings
from fragrance_ai.training.run import EVALUATION_SAMPLES, _standardised

# As the API's defaults: three variations a question, the parent offered beside them.
VARIATIONS_PER_QUESTION = 3
# As bench/perfumer.Perfumer.sessions: back to one of the brief's options every few rounds.
RESTART_EVERY = 4
# Taste differences below this (points) are rounding, not a preference.
TIE_POINTS = 1e-9


@dataclass(frozen=True)
class StoredFormula:
    """A formula as an installation stores it: with its brief, which its variations share."""

    formula: Formula
    context: BriefContext
    amounts: Vector

    @staticmethod
    def of(table: MaterialTable, formula: Formula, context: BriefContext) -> StoredFormula:
        return StoredFormula(formula, context, table.vector_of(formula))

    def start(self) -> Start:
        return Start(self.amounts, self.formula.product, self.formula.dosage_percent, self.context)

    def reward_features(self, table: MaterialTable) -> Vector:
        return np.asarray(
            reward_features(
                table,
                self.amounts[None, :],
                self.context.family_target[None, :],
                self.context.tier_targets[None, :],
            )[0]
        )


def brief_options(
    catalogue: Catalogue, table: MaterialTable, *, texts: tuple[str, ...] = BRIEFS, seed: int = 1
) -> list[StoredFormula]:
    """Every brief's options from the optimiser in fast mode, as POST /v1/briefs designs
    them (the deterministic parser reads the briefs; one search seed for all)."""
    settings = Settings(_env_file=None)
    search = settings.optimizer.modes[InferenceMode.FAST]
    config = SearchConfig(
        population=search.population,
        generations=search.generations,
        objectives=tuple(Objective(name) for name in search.objectives),
        mutation_steps=search.mutation_steps,
        seed=seed,
    )
    parser = DeterministicBriefParser(catalogue)
    options: list[StoredFormula] = []
    for text in texts:
        brief = parser.parse(text)
        context = BriefContext.of(table, brief)
        design = design_options(
            catalogue,
            brief,
            config,
            count=settings.optimizer.options,
            seeds=settings.designer.variants,
        )
        options.extend(
            StoredFormula.of(table, option.designed.formula, context) for option in design.options
        )
    return options


@dataclass(frozen=True)
class Preferences:
    """Stored preferences as training/data.py reads them: chosen and rejected reward
    features (pairs x features), and the choice that stored each pair."""

    chosen: Vector
    rejected: Vector
    choices: npt.NDArray[np.int64]

    @staticmethod
    def of(made: list[list[tuple[Vector, Vector]]], latest: int | None = None) -> Preferences:
        """`made`: per choice, its pairs; only the `latest` pairs when given."""
        pairs = [(k, pair) for k, pairs in enumerate(made) for pair in pairs]
        if latest is not None:
            pairs = pairs[-latest:]
        return Preferences(
            np.stack([c for _, (c, _) in pairs]),
            np.stack([r for _, (_, r) in pairs]),
            np.array([k for k, _ in pairs]),
        )


@dataclass(frozen=True)
class Session:
    """What a perfumer's choices left in the installation, in the order they were made."""

    # Per choice, the preferences it stored: (chosen, rejected) reward features.
    preferences: list[list[tuple[Vector, Vector]]]
    # Per choice, the variations it offered (stored formulas: PPO starts from them too).
    offered: list[list[StoredFormula]]
    # Per choice and preference, the hidden taste's difference chosen minus rejected (points):
    # how far the choices themselves agree with the taste they are noisy answers of.
    margins: list[list[float]]
    # When the questions were asked as the product asks them: the reward model refitted
    # after each choice (index k: after k + 1 choices), which also picked the next question.
    refits: list[FittedReward] | None = None
    # Seconds each of those refits took.
    refit_seconds: list[float] | None = None

    def first(self, choices: int) -> tuple[Preferences, list[StoredFormula]]:
        """The preferences and the variations stored after the first `choices` choices."""
        return (
            Preferences.of(self.preferences[:choices]),
            [f for made in self.offered[:choices] for f in made],
        )

    def taste_agreement(self, choices: int) -> float:
        """The share of the first `choices` choices' preferences that the hidden taste itself
        agrees with (a tie half): the held-out accuracy a perfect reward model would reach
        on such pairs, near enough."""
        margins = np.array([m for made in self.margins[:choices] for m in made])
        # An edit that leaves the taste alone differs by rounding only: a tie.
        tie = np.abs(margins) < TIE_POINTS
        return float(np.mean(np.where(tie, 0.5, np.where(margins > 0, 1.0, 0.0))))


def run_session(
    table: MaterialTable,
    options: list[StoredFormula],
    taste: Taste,
    taste_weights: Vector,
    *,
    choices: int,
    seed: int,
    sharpness: float,
    asking: RLSettings | None = None,
) -> Session:
    """As bench/perfumer.Perfumer.sessions: rounds of variations of the last chosen formula,
    back to a random brief option every `RESTART_EVERY` rounds, each answered by the
    perfumer's Bradley-Terry choice on the hidden taste. The perfumer's generator draws the
    parents, every question's seed and the choice's noise, so the first k choices of a
    longer session are the session of k choices.

    Without `asking`, every question comes from the initial policy with no reward model,
    as on a fresh installation that never refits between training runs. With it, as the
    product asks (training/reward_models.py, rl/proposals.py): the reward model is
    refitted on the latest `refit_window` preferences after every choice, and ranks the
    next question's variations (`rl.proposals` "reward_model"); the first question, before
    any choice, is the initial policy's."""
    rng = np.random.default_rng(seed)
    refits: list[FittedReward] = []
    refit_seconds: list[float] = []
    served: ExportedReward | None = None
    preferences: list[list[tuple[Vector, Vector]]] = []
    offered_sets: list[list[StoredFormula]] = []
    margins: list[list[float]] = []
    parent = options[0]
    for round_index in range(choices):
        if round_index % RESTART_EVERY == 0:
            parent = options[int(rng.integers(len(options)))]
        question_seed = int(rng.integers(2**31))
        proposals = propose_variations(
            table,
            parent.formula,
            parent.context,
            count=VARIATIONS_PER_QUESTION,
            rng=np.random.default_rng(question_seed),
            reward=served,
            rank=asking.proposals if asking is not None else "policy",
        )
        variations = [StoredFormula.of(table, p.formula, parent.context) for p in proposals]
        offered = [*variations, parent]
        tastes = [float(f.amounts @ taste_weights) / 100 for f in offered]
        picked = bradley_terry_choice(tastes, rng, sharpness)
        chosen = offered[picked]
        margins.append(
            [100 * (tastes[picked] - taste) for k, taste in enumerate(tastes) if k != picked]
        )
        chosen_features = chosen.reward_features(table)
        preferences.append(
            [
                (chosen_features, other.reward_features(table))
                for other in offered
                if other is not chosen
            ]
        )
        offered_sets.append(variations)
        parent = chosen
        if asking is not None:
            stored = Preferences.of(preferences, latest=asking.reward_model.refit_window)
            started = time.perf_counter()
            fitted = fit_reward(table, stored, asking, seed)
            refit_seconds.append(time.perf_counter() - started)
            refits.append(fitted)
            served = fitted.model
    if asking is None:
        return Session(preferences, offered_sets, margins)
    return Session(preferences, offered_sets, margins, refits, refit_seconds)


@dataclass(frozen=True)
class Trained:
    """A training run's outcome as the API would serve it afterwards."""

    fitted: FittedReward
    # The activated policy; None when the run kept the initial one.
    policy: ExportedPolicy | None
    decision: str
    rollbacks: int


class _Checkpoints:
    """training/recorder.py's part that run_updates calls, kept in memory."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def on_update(self, metrics: UpdateMetrics, total_updates: int) -> None:
        pass

    def on_checkpoint(self, metrics: UpdateMetrics, blob: bytes, evaluation: Evaluation) -> str:
        checkpoint = f"update-{metrics.update}"
        self.blobs[checkpoint] = blob
        return checkpoint

    def on_rollback(self, metrics: UpdateMetrics, reason: str, to_checkpoint: str | None) -> None:
        pass


def fit_reward(
    table: MaterialTable, stored: Preferences, config: RLSettings, seed: int
) -> FittedReward:
    return fit_reward_model(
        stored.chosen,
        stored.rejected,
        reward_feature_names(table),
        config.reward_model,
        seed,
        choices=stored.choices,
    )


def train_policy(
    table: MaterialTable,
    stored: list[StoredFormula],
    fitted: FittedReward,
    config: RLSettings,
    seed: int,
) -> Trained:
    """training/run.py's `_train` after the reward model, on a fresh installation (no
    active policy), with `stored` as every stored formula."""
    starts = [formula.start() for formula in stored]
    order = np.random.default_rng(seed).permutation(len(starts))
    held_out = min(config.eval_formulas, max(1, len(starts) // 4))
    evaluation_starts = [starts[i] for i in order[:held_out]]
    training_starts = [starts[i] for i in order[held_out:]]
    reward: ExportedReward = _standardised(fitted.model, table, starts)
    feature_names, actions = state_feature_names(table), action_names(table)
    agent = build_agent(len(feature_names), len(actions), config.ppo.hidden, seed)

    def evaluate(candidate: Agent | None) -> Evaluation:
        return evaluate_policy(
            table,
            evaluation_starts,
            candidate,
            horizon=config.ppo.horizon,
            terms=config.reward,
            reward=reward,
            samples=EVALUATION_SAMPLES,
            seed=seed,
        )

    base_evaluation = evaluate(None)
    env = FormulaEnv(
        table,
        training_starts,
        num_envs=config.ppo.num_envs,
        horizon=config.ppo.horizon,
        terms=config.reward,
        reward=reward,
        rng=np.random.default_rng(seed),
    )
    trainer = PPOTrainer(config.ppo, env, agent, seed)
    checkpoints = _Checkpoints()

    def encode(update_index: int) -> bytes:
        return encode_checkpoint(
            trainer.agent,
            feature_names=feature_names,
            action_names=actions,
            update=update_index,
            seed=seed,
            hidden=config.ppo.hidden,
            config=config.model_dump(mode="json"),
        )

    result = run_updates(
        trainer,
        config,
        total_updates=config.ppo.total_updates,
        evaluate=evaluate,
        encode=encode,
        recorder=checkpoints,
    )
    best = result.best_evaluation
    if result.best_checkpoint is None or best is None:
        return Trained(fitted, None, "kept the initial policy: no good checkpoint", 0)
    if best.mean_return <= base_evaluation.mean_return:
        return Trained(
            fitted,
            None,
            f"kept the initial policy: best return {best.mean_return:.3g} <= "
            f"{base_evaluation.mean_return:.3g}",
            len(result.rollbacks),
        )
    arrays, metadata = decode(checkpoints.blobs[result.best_checkpoint])
    policy = ExportedPolicy.from_arrays(
        arrays, metadata, feature_names=feature_names, action_names=actions
    )
    return Trained(
        fitted,
        policy,
        f"activated {result.best_checkpoint}: return {best.mean_return:.3g} > "
        f"{base_evaluation.mean_return:.3g}",
        len(result.rollbacks),
    )

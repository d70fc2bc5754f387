"""A training run, on the rl_training worker or from `fragrance-ai train`.

1. Fit the reward model (rl.reward_model) on every stored preference (or one perfumer's),
   store it (file + row, with its held-out accuracy).
2. Take stored formulas with their briefs as episode starts; hold some out to evaluate on.
3. Start from the active policy's weights (fresh ones when there is none, or when it was
   trained on another catalogue), run PPO (rl.ppo) through the update loop (rl.loop):
   a checkpoint every K updates, written atomically with its row, the best and the last N
   kept; automatic rollbacks recorded with their reason.
4. Activate the best checkpoint when it evaluates above the policy that was active (both
   judged by the new reward model on the same held-out formulas and draws); otherwise the
   active policy stays, and the run says why.

What it reads is in training/data.py, what it records in training/recorder.py, a job
delivered again in training/redelivery.py; every query in db/training.py.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from fragrance_ai.db.models import Job, JobStatus, Policy, TrainingRun
from fragrance_ai.db.training import (
    activate_policy,
    active_policy,
    preference_pairs,
    read_policy,
    training_run_of_job,
)
from fragrance_ai.platform.metrics import RL_ACTIVE_POLICY_VERSION
from fragrance_ai.rl.actions import action_names
from fragrance_ai.rl.checkpoints import encode_checkpoint, load_agent
from fragrance_ai.rl.environment import FormulaEnv, Start
from fragrance_ai.rl.evaluation import Evaluation, evaluate_policy
from fragrance_ai.rl.exported import ExportedReward
from fragrance_ai.rl.features import reward_feature_names, reward_features, state_feature_names
from fragrance_ai.rl.fitted_reward import FittedReward
from fragrance_ai.rl.loop import run_updates
from fragrance_ai.rl.materials import MaterialTable, material_table
from fragrance_ai.rl.ppo import Agent, PPOTrainer, build_agent
from fragrance_ai.rl.reward_model import fit_reward_model
from fragrance_ai.rl.weights_file import read_verified
from fragrance_ai.runtime import Runtime
from fragrance_ai.settings import RLSettings
from fragrance_ai.training.data import episode_starts, preference_features
from fragrance_ai.training.recorder import ProgressHook, Recorder
from fragrance_ai.training.redelivery import start_over
from fragrance_ai.training.reward_models import store_reward_model

# Episodes per held-out formula in each evaluation: the policy samples its edits.
EVALUATION_SAMPLES = 4


class TrainingRefused(Exception):
    """The run cannot do anything useful (too few preferences or formulas): it fails at once
    with this message, without retries."""


def run_training(
    runtime: Runtime, session: Session, job: Job, *, on_update: ProgressHook | None = None
) -> TrainingRun:
    run = training_run_of_job(session, job.id)
    if run is None:
        raise TrainingRefused("the job has no training run")
    try:
        _train(runtime, session, run, on_update)
    except Exception as error:
        session.rollback()
        run.status = JobStatus.FAILED.value
        run.error = f"{type(error).__name__}: {error}"[:2000]
        run.finished_at = datetime.now(UTC)
        session.commit()
        raise
    return run


def _train(
    runtime: Runtime, session: Session, run: TrainingRun, on_update: ProgressHook | None
) -> None:
    settings = runtime.settings
    if not start_over(session, settings, run):
        return
    config = RLSettings.model_validate(run.config)
    table = material_table(runtime.catalogue)
    run.status = JobStatus.STARTED.value
    run.started_at = run.started_at or datetime.now(UTC)
    run.stage = "reward_model"
    session.commit()

    fitted = _fit_reward(session, table, config, run)
    reward_row = store_reward_model(
        session, settings.policies_root, fitted, run=run, user_ref=run.user_ref, trigger="training"
    )
    run.reward_model_id = reward_row.id
    run.stage = "ppo"
    session.commit()

    starts = episode_starts(session, table)
    if len(starts) < 2:
        raise TrainingRefused(f"needs at least 2 stored formulas to train on, has {len(starts)}")
    order = np.random.default_rng(run.seed).permutation(len(starts))
    held_out = min(config.eval_formulas, max(1, len(starts) // 4))
    evaluation_starts = [starts[i] for i in order[:held_out]]
    training_starts = [starts[i] for i in order[held_out:]]

    # The reward model's scores in standard deviations over the stored formulas, so that
    # its term weighs against brief fit and the compliance penalty the same way whatever
    # scale a fit happened to land on (well-separated choices give large weights).
    reward = _standardised(fitted.model, table, starts)
    feature_names, actions = state_feature_names(table), action_names(table)
    base = active_policy(session)
    base_agent = _load_policy(settings.policies_root, base, feature_names, actions)
    # The base stays as it is for its evaluation; training moves a copy.
    run.base_policy_id = base.id if base is not None else None
    agent = (
        copy.deepcopy(base_agent)
        if base_agent is not None
        else build_agent(len(feature_names), len(actions), config.ppo.hidden, run.seed)
    )

    def evaluate(candidate: Agent | None) -> Evaluation:
        return evaluate_policy(
            table,
            evaluation_starts,
            candidate,
            horizon=config.ppo.horizon,
            terms=config.reward,
            reward=reward,
            samples=EVALUATION_SAMPLES,
            seed=run.seed,
        )

    base_evaluation = evaluate(base_agent)
    env = FormulaEnv(
        table,
        training_starts,
        num_envs=config.ppo.num_envs,
        horizon=config.ppo.horizon,
        terms=config.reward,
        reward=reward,
        rng=np.random.default_rng(run.seed),
    )
    trainer = PPOTrainer(config.ppo, env, agent, run.seed)
    total_updates = config.ppo.total_updates
    recorder = Recorder(session, settings, config, run, reward_row, base, on_update)

    def encode(update_index: int) -> bytes:
        return encode_checkpoint(
            trainer.agent,
            feature_names=feature_names,
            action_names=actions,
            update=update_index,
            seed=run.seed,
            hidden=config.ppo.hidden,
            config=run.config,
        )

    try:
        result = run_updates(
            trainer,
            config,
            total_updates=total_updates,
            evaluate=evaluate,
            encode=encode,
            recorder=recorder,
        )
    finally:
        recorder.close()

    activated, decision = _decide(
        session, result.best_checkpoint, result.best_evaluation, base_evaluation
    )
    run.metrics = {
        "updates": total_updates,
        "rollbacks": len(result.rollbacks),
        "base_evaluation": base_evaluation.as_dict(),
        "best_evaluation": result.best_evaluation.as_dict() if result.best_evaluation else None,
        "best_policy_id": result.best_checkpoint,
        "activated_policy_id": str(activated.id) if activated is not None else None,
        "decision": decision,
        "reward_model": {
            "version": reward_row.version,
            "heldout_accuracy": fitted.heldout_accuracy,
            "heldout_pairs": fitted.heldout_pairs,
            "train_accuracy": fitted.train_accuracy,
            "preferences": fitted.pairs,
        },
        "starts": {"training": len(training_starts), "held_out": len(evaluation_starts)},
    }
    run.status = JobStatus.FINISHED.value
    run.stage = "finished"
    run.progress = 1.0
    run.finished_at = datetime.now(UTC)
    session.commit()


def _fit_reward(
    session: Session, table: MaterialTable, config: RLSettings, run: TrainingRun
) -> FittedReward:
    pairs = preference_pairs(session, run.user_ref)
    needed = config.reward_model.min_preferences
    if len(pairs) < needed:
        whose = f" from {run.user_ref}" if run.user_ref else ""
        raise TrainingRefused(
            f"needs at least {needed} preferences{whose} to learn a taste, has {len(pairs)}"
        )
    data = preference_features(session, table, pairs)
    return fit_reward_model(
        data.chosen,
        data.rejected,
        reward_feature_names(table),
        config.reward_model,
        run.seed,
        choices=data.choices,
    )


def _standardised(
    model: ExportedReward, table: MaterialTable, starts: list[Start]
) -> ExportedReward:
    amounts = np.stack([start.amounts for start in starts])
    targets = np.stack([start.context.family_target for start in starts])
    tiers = np.stack([start.context.tier_targets for start in starts])
    spread = float(model.score(reward_features(table, amounts, targets, tiers)).std())
    if spread <= 1e-12:
        return model
    return model.scaled(spread)


def _load_policy(
    root: Path,
    policy: Policy | None,
    feature_names: tuple[str, ...],
    actions: tuple[str, ...],
) -> Agent | None:
    if policy is None or not policy.kept:
        return None
    arrays, metadata = read_verified(root / policy.path, policy.sha256)
    return load_agent(arrays, metadata, feature_names=feature_names, action_names=actions)


def _decide(
    session: Session,
    best_checkpoint: str | None,
    best: Evaluation | None,
    base: Evaluation,
) -> tuple[Policy | None, str]:
    if best_checkpoint is None or best is None:
        return None, "kept the base policy: no good checkpoint was written"
    if best.mean_return <= base.mean_return:
        return None, (
            f"kept the base policy: the best checkpoint's evaluated return "
            f"{best.mean_return:.4g} is not above its {base.mean_return:.4g}"
        )
    activated = _activate(session, uuid.UUID(best_checkpoint))
    return activated, (
        f"activated version {activated.version}: evaluated return {best.mean_return:.4g} "
        f"above the base policy's {base.mean_return:.4g}"
    )


def _activate(session: Session, policy_id: uuid.UUID) -> Policy:
    policy = read_policy(session, policy_id)
    if policy is None:
        raise LookupError(f"no policy {policy_id}")
    activate_policy(session, policy)
    RL_ACTIVE_POLICY_VERSION.set(policy.version)
    return policy

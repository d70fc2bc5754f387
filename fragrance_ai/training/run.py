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
"""

from __future__ import annotations

import copy
import logging
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from fragrance_ai.db.learning import activate_policy
from fragrance_ai.db.models import (
    Brief,
    Formula,
    Job,
    JobStatus,
    Policy,
    Preference,
    RewardModel,
    Rollback,
    TrainingRun,
    VariationSet,
)
from fragrance_ai.db.repositories import as_domain_formula
from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.products import ProductType
from fragrance_ai.platform.metrics import (
    RL_ACTIVE_POLICY_VERSION,
    RL_APPROX_KL,
    RL_CLIP_FRACTION,
    RL_ENTROPY,
    RL_LOSS,
    RL_REWARD,
    RL_REWARD_MODEL_ACCURACY,
    RL_ROLLBACKS,
    RL_UPDATES,
)
from fragrance_ai.rl.actions import action_names
from fragrance_ai.rl.checkpoints import encode_checkpoint, load_agent
from fragrance_ai.rl.environment import FormulaEnv, Start
from fragrance_ai.rl.evaluation import Evaluation, evaluate_policy
from fragrance_ai.rl.exported import ExportedReward
from fragrance_ai.rl.features import (
    BriefContext,
    reward_feature_names,
    reward_features,
    state_feature_names,
)
from fragrance_ai.rl.loop import run_updates
from fragrance_ai.rl.materials import MaterialTable, material_table
from fragrance_ai.rl.ppo import Agent, PPOTrainer, UpdateMetrics, build_agent
from fragrance_ai.rl.reward_model import FittedReward, fit_reward_model
from fragrance_ai.rl.scalars import ScalarWriter
from fragrance_ai.rl.weights_file import read_verified, write_atomically
from fragrance_ai.runtime import Runtime
from fragrance_ai.settings import RLSettings, Settings

log = logging.getLogger(__name__)

# Episodes per held-out formula in each evaluation: the policy samples its edits.
EVALUATION_SAMPLES = 4
# Most recent stored formulas used as episode starts.
MAX_STARTS = 2000


class TrainingRefused(Exception):
    """The run cannot do anything useful (too few preferences or formulas): it fails at once
    with this message, without retries."""


ProgressHook = Callable[[UpdateMetrics, int], None]


def run_training(
    runtime: Runtime, session: Session, job: Job, *, on_update: ProgressHook | None = None
) -> TrainingRun:
    run = session.scalar(select(TrainingRun).where(TrainingRun.job_id == job.id))
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
    if not _start_over(session, settings, run):
        return
    config = RLSettings.model_validate(run.config)
    table = material_table(runtime.catalogue)
    run.status = JobStatus.STARTED.value
    run.started_at = run.started_at or datetime.now(UTC)
    run.stage = "reward_model"
    session.commit()

    fitted = _fit_reward(session, table, config, run)
    reward_row = _store_reward(session, settings.policies_root, fitted, run)
    run.reward_model_id = reward_row.id
    run.stage = "ppo"
    session.commit()

    starts = _starts(session, table)
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
    base = session.scalar(select(Policy).where(Policy.active.is_(True)))
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
    recorder = _Recorder(session, settings, config, run, reward_row, base, on_update)

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
    activated = activate(session, uuid.UUID(best_checkpoint))
    return activated, (
        f"activated version {activated.version}: evaluated return {best.mean_return:.4g} "
        f"above the base policy's {base.mean_return:.4g}"
    )


def activate(session: Session, policy_id: uuid.UUID) -> Policy:
    policy = session.get(Policy, policy_id)
    if policy is None:
        raise LookupError(f"no policy {policy_id}")
    activate_policy(session, policy)
    RL_ACTIVE_POLICY_VERSION.set(policy.version)
    return policy


# ------------------------------------------------------------------ a job delivered again


def _start_over(session: Session, settings: Settings, run: TrainingRun) -> bool:
    """RQ delivers a job at least once: a worker killed mid-run leaves the job started, and
    the reconciler delivers it again. What the earlier attempt wrote (reward model,
    checkpoints, rollbacks, updates) is removed so that the run's side effects happen once;
    training is deterministic under run.seed, so the redo writes what one attempt would
    have. False when the run is done and must not be trained again."""
    if run.status == JobStatus.FINISHED.value:
        # Finished and activated in one commit; the worker died before it marked the job.
        return False
    policies = session.scalars(select(Policy).where(Policy.training_run_id == run.id)).all()
    served = next((policy for policy in policies if policy.activated_at is not None), None)
    if served is not None:
        _finish_as_served(session, run, served)
        return False
    rewards = session.scalars(
        select(RewardModel).where(RewardModel.training_run_id == run.id)
    ).all()
    rollbacks = session.scalar(
        select(func.count()).select_from(Rollback).where(Rollback.training_run_id == run.id)
    )
    if not (policies or rewards or rollbacks or run.updates or run.reward_model_id):
        return True
    log.info(
        "training run %s: an earlier attempt left %d updates, %d checkpoints, %d reward "
        "models and %d rollbacks; starting over",
        run.id,
        len(run.updates),
        len(policies),
        len(rewards),
        rollbacks,
    )
    # Rollbacks point at checkpoints, checkpoints at each other and at the reward model,
    # the run at the reward model: removed in that order.
    session.execute(delete(Rollback).where(Rollback.training_run_id == run.id))
    session.execute(update(Policy).where(Policy.training_run_id == run.id).values(parent_id=None))
    session.execute(delete(Policy).where(Policy.training_run_id == run.id))
    run.reward_model_id = None
    session.flush()
    # A reward model the API already proposed variations with (it serves the newest one) is
    # on record in those variation sets: it stays, and the redo fits its own.
    referenced = set(
        session.scalars(
            select(VariationSet.reward_model_id).where(
                VariationSet.reward_model_id.in_([reward.id for reward in rewards])
            )
        )
    )
    removed_rewards = [reward for reward in rewards if reward.id not in referenced]
    for reward in removed_rewards:
        session.delete(reward)
    run.updates, run.metrics, run.error = [], None, None
    run.progress, run.stage, run.base_policy_id, run.finished_at = 0.0, None, None, None
    session.commit()
    # Files go once their rows are gone: a failed commit leaves both. The redo writes its
    # checkpoints to the same paths anyway (atomically); removing them now keeps a pruned
    # or never-reached update's file of the earlier attempt from lingering.
    root = settings.policies_root
    for path in [policy.path for policy in policies] + [r.path for r in removed_rewards]:
        (root / path).unlink(missing_ok=True)
    if settings.scalars_root is not None:
        shutil.rmtree(settings.scalars_root / str(run.id), ignore_errors=True)
    return True


def _finish_as_served(session: Session, run: TrainingRun, served: Policy) -> None:
    """A checkpoint of this run was activated before the job came back (the run commits
    activation with its end, so an operator activated it mid-run): perfumers may have been
    proposed variations with it, so it is neither removed nor trained over. The run ends
    with what the earlier attempt recorded, saying why."""
    run.metrics = {
        **(run.metrics or {}),
        "updates": len(run.updates),
        "activated_policy_id": str(served.id),
        "decision": (
            f"kept version {served.version}, a checkpoint of an earlier attempt of this run "
            "that was activated before the job was delivered again; not trained again"
        ),
    }
    run.status = JobStatus.FINISHED.value
    run.stage = "finished"
    run.progress = 1.0
    run.finished_at = datetime.now(UTC)
    session.commit()


# ------------------------------------------------------------------ data from the database


def _fit_reward(
    session: Session, table: MaterialTable, config: RLSettings, run: TrainingRun
) -> FittedReward:
    query = select(Preference.chosen_formula_id, Preference.rejected_formula_id).order_by(
        Preference.id
    )
    if run.user_ref is not None:
        query = query.where(Preference.user_ref == run.user_ref)
    pairs = session.execute(query).all()
    needed = config.reward_model.min_preferences
    if len(pairs) < needed:
        whose = f" from {run.user_ref}" if run.user_ref else ""
        raise TrainingRefused(
            f"needs at least {needed} preferences{whose} to learn a taste, has {len(pairs)}"
        )
    ids = {formula_id for pair in pairs for formula_id in pair}
    features = _features_of(session, table, ids)
    chosen = np.stack([features[c] for c, _ in pairs])
    rejected = np.stack([features[r] for _, r in pairs])
    return fit_reward_model(
        chosen, rejected, reward_feature_names(table), config.reward_model, run.seed
    )


def _features_of(
    session: Session, table: MaterialTable, ids: set[uuid.UUID]
) -> dict[uuid.UUID, np.ndarray]:
    rows = session.scalars(select(Formula).where(Formula.id.in_(ids))).all()
    contexts = _contexts(session, table, {row.brief_id for row in rows if row.brief_id})
    features = {}
    for row in rows:
        context = contexts.get(row.brief_id) if row.brief_id else None
        context = context or BriefContext.none(table)
        amounts = table.vector_of(as_domain_formula(row))[None, :]
        features[row.id] = reward_features(
            table, amounts, context.family_target[None, :], context.tier_targets[None, :]
        )[0]
    return features


def _contexts(
    session: Session, table: MaterialTable, brief_ids: set[uuid.UUID]
) -> dict[uuid.UUID, BriefContext]:
    if not brief_ids:
        return {}
    briefs = session.execute(select(Brief.id, Brief.parsed).where(Brief.id.in_(brief_ids)))
    return {
        brief_id: BriefContext.of(table, CreativeBrief.model_validate(parsed))
        for brief_id, parsed in briefs
        if parsed is not None
    }


def _starts(session: Session, table: MaterialTable) -> list[Start]:
    """The newest `MAX_STARTS` stored formulas made only of catalogue materials, in an order
    fixed by what they are, so that a seed draws the same starts in every installation.
    Not by time: the formulas of one commit may or may not share a timestamp, run to run,
    and their ids are random. (Only a selection cut inside one commit's formulas, past
    `MAX_STARTS`, can still differ.)"""
    cutoff = session.scalar(
        select(Formula.created_at)
        .order_by(Formula.created_at.desc())
        .offset(MAX_STARTS - 1)
        .limit(1)
    )
    query = select(Formula)
    if cutoff is not None:
        query = query.where(Formula.created_at >= cutoff)
    rows = session.scalars(query).all()
    contexts = _contexts(session, table, {row.brief_id for row in rows if row.brief_id})
    keyed: list[tuple[datetime, bytes, Start]] = []
    for row in rows:
        if any(line.cas not in table.row_of for line in row.lines):
            continue
        context = contexts.get(row.brief_id) if row.brief_id else None
        start = Start(
            amounts=table.vector_of(as_domain_formula(row)),
            product=ProductType(row.product),
            dosage_percent=row.dosage_percent,
            context=context or BriefContext.none(table),
        )
        keyed.append((row.created_at, _content_key(start), start))
    keyed.sort(key=lambda entry: entry[:2])
    newest = sorted(keyed[-MAX_STARTS:], key=lambda entry: entry[1])
    return [start for _, _, start in newest]


def _content_key(start: Start) -> bytes:
    return b"".join(
        (
            start.amounts.tobytes(),
            start.product.value.encode(),
            np.float64(start.dosage_percent).tobytes(),
            start.context.family_target.tobytes(),
            start.context.tier_targets.tobytes(),
            start.context.protected.tobytes(),
        )
    )


def _store_reward(
    session: Session, root: Path, fitted: FittedReward, run: TrainingRun
) -> RewardModel:
    version = (session.scalar(select(func.max(RewardModel.version))) or 0) + 1
    relative = f"reward-models/v{version:05d}.safetensors"
    sha256 = write_atomically(root / relative, fitted.encoded())
    row = RewardModel(
        id=uuid.uuid4(),
        version=version,
        training_run_id=run.id,
        user_ref=run.user_ref,
        preferences=fitted.pairs,
        heldout_accuracy=fitted.heldout_accuracy,
        heldout_pairs=fitted.heldout_pairs,
        members=int(fitted.model.weights.shape[0]),
        path=relative,
        sha256=sha256,
        metrics={
            "train_accuracy": fitted.train_accuracy,
            "train_loss": fitted.train_loss,
            "train_pairs": fitted.train_pairs,
        },
    )
    session.add(row)
    session.flush()
    if fitted.heldout_accuracy is not None:
        RL_REWARD_MODEL_ACCURACY.set(fitted.heldout_accuracy)
    return row


def _standardised(
    model: ExportedReward, table: MaterialTable, starts: list[Start]
) -> ExportedReward:
    amounts = np.stack([start.amounts for start in starts])
    targets = np.stack([start.context.family_target for start in starts])
    tiers = np.stack([start.context.tier_targets for start in starts])
    spread = float(model.score(reward_features(table, amounts, targets, tiers)).std())
    if spread <= 1e-12:
        return model
    return ExportedReward(model.weights / spread, model.mean, model.scale, model.feature_names)


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


# ------------------------------------------------------------------ recording the run


@dataclass
class _Recorder:
    session: Session
    settings: Settings
    config: RLSettings
    run: TrainingRun
    reward_row: RewardModel
    base: Policy | None
    on_update_hook: ProgressHook | None

    def __post_init__(self) -> None:
        scalars_root = self.settings.scalars_root
        self.scalars = (
            None
            if scalars_root is None
            else ScalarWriter(scalars_root / str(self.run.id), run_name=str(self.run.id))
        )
        self.previous: uuid.UUID | None = self.base.id if self.base is not None else None

    def on_update(self, metrics: UpdateMetrics, total_updates: int) -> None:
        self.run.updates = [*self.run.updates, _finite(metrics.as_dict())]
        self.run.progress = metrics.update / total_updates
        self.run.stage = f"ppo: update {metrics.update}/{total_updates}"
        self.session.commit()
        RL_UPDATES.inc()
        RL_REWARD.set(metrics.reward)
        RL_LOSS.labels("policy").set(metrics.policy_loss)
        RL_LOSS.labels("value").set(metrics.value_loss)
        RL_LOSS.labels("total").set(metrics.loss)
        RL_ENTROPY.set(metrics.entropy)
        RL_APPROX_KL.set(metrics.batch_kl)
        RL_CLIP_FRACTION.set(metrics.clipfrac)
        if self.scalars is not None:
            for tag, value in metrics.scalars().items():
                self.scalars.add_scalar(tag, value, metrics.global_step)
            self.scalars.flush()
        if self.on_update_hook is not None:
            self.on_update_hook(metrics, total_updates)

    def on_checkpoint(self, metrics: UpdateMetrics, blob: bytes, evaluation: Evaluation) -> str:
        session = self.session
        version = (session.scalar(select(func.max(Policy.version))) or 0) + 1
        relative = f"runs/{self.run.id}/update-{metrics.update:05d}.safetensors"
        sha256 = write_atomically(self.settings.policies_root / relative, blob)
        policy = Policy(
            id=uuid.uuid4(),
            version=version,
            training_run_id=self.run.id,
            parent_id=self.previous,
            reward_model_id=self.reward_row.id,
            at_update=metrics.update,
            path=relative,
            sha256=sha256,
            metrics=_finite(metrics.as_dict()),
            evaluation=evaluation.as_dict(),
        )
        session.add(policy)
        session.flush()
        self.previous = policy.id
        self._prune()
        session.commit()
        if self.scalars is not None:
            self.scalars.add_scalar("eval/mean_return", evaluation.mean_return, metrics.global_step)
        return str(policy.id)

    def on_rollback(self, metrics: UpdateMetrics, reason: str, to_checkpoint: str | None) -> None:
        self.session.add(
            Rollback(
                training_run_id=self.run.id,
                at_update=metrics.update,
                to_policy_id=uuid.UUID(to_checkpoint) if to_checkpoint else None,
                reason=reason,
                metrics=_finite(metrics.as_dict()),
            )
        )
        self.session.commit()
        RL_ROLLBACKS.labels(_rollback_kind(reason)).inc()

    def _prune(self) -> None:
        """Keeps the files of the best and the last N of this run; never the active one's."""
        policies = self.session.scalars(
            select(Policy)
            .where(Policy.training_run_id == self.run.id, Policy.kept.is_(True))
            .order_by(Policy.at_update)
        ).all()
        keep = {policy.id for policy in policies[-self.config.checkpoints.keep_last :]}
        best = max(policies, key=lambda p: (p.evaluation["mean_return"], -p.at_update))
        keep.add(best.id)
        for policy in policies:
            if policy.id in keep or policy.active:
                continue
            (self.settings.policies_root / policy.path).unlink(missing_ok=True)
            policy.kept = False

    def close(self) -> None:
        if self.scalars is not None:
            self.scalars.close()


def _rollback_kind(reason: str) -> str:
    if "KL" in reason:
        return "approx_kl"
    if reason.startswith("evaluated"):
        return "evaluated_reward"
    return "loss"


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: an undefined figure (explained variance of constant returns) is
    stored as null."""
    return {
        key: (None if isinstance(value, float) and not np.isfinite(value) else value)
        for key, value in values.items()
    }

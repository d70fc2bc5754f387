"""Reward models as an installation keeps them: a fitted model stored (file written first,
then its row), by a training run or after a perfumer's choice.

After every choice the sparse reward model (rl/sparse_reward.py) is refitted on the latest
`rl.reward_model.refit_window` preferences, and on the perfumer's own when the choice names
one, so the next variations are asked and ranked with what the last answer taught
(rl/proposals.py). A perfumer makes 10-30 choices in a session; waiting for a training run
every `rl.auto_train_every` preferences would ask most of them blind. The fit is NumPy
only (0.07 s at 30 preferences, 0.23 s at 90, 0.75 s at 300 on this project's 2-core
machine), so the API process runs it, after the choice is committed and answered (a
background task of the feedback route): a refit that fails is logged and leaves the
choice as it stood; a question asked before it ends is asked with the previous model.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.orm import Session

from fragrance_ai.db.models import RewardModel, TrainingRun
from fragrance_ai.db.training import add_reward_model, next_reward_model_version, preference_pairs
from fragrance_ai.platform.metrics import RL_REWARD_MODEL_ACCURACY
from fragrance_ai.rl.features import reward_feature_names
from fragrance_ai.rl.fitted_reward import FittedReward
from fragrance_ai.rl.materials import Vector, material_table
from fragrance_ai.rl.sparse_reward import fit_sparse_reward, shared_prior
from fragrance_ai.rl.weights_file import write_atomically
from fragrance_ai.runtime import Runtime
from fragrance_ai.training.data import preference_features

log = logging.getLogger(__name__)


def store_reward_model(
    session: Session,
    root: Path,
    fitted: FittedReward,
    *,
    run: TrainingRun | None,
    user_ref: str | None,
    trigger: str,
) -> RewardModel:
    """The file, then its row (flushed, not committed): `trigger` says what fitted it, a
    training run ("training") or a choice ("choice")."""
    version = next_reward_model_version(session)
    relative = f"reward-models/v{version:05d}.safetensors"
    sha256 = write_atomically(root / relative, fitted.encoded())
    row = add_reward_model(
        session,
        training_run_id=None if run is None else run.id,
        user_ref=user_ref,
        version=version,
        path=relative,
        sha256=sha256,
        preferences=fitted.pairs,
        heldout_accuracy=fitted.heldout_accuracy,
        heldout_pairs=fitted.heldout_pairs,
        members=int(fitted.model.weights.shape[0]),
        metrics={
            "train_accuracy": fitted.train_accuracy,
            "train_loss": fitted.train_loss,
            "train_pairs": fitted.train_pairs,
            "trigger": trigger,
            # What the model reads in the choices (the sparse prior's readings), for the
            # workbench: each reading's features, liked (+1) or not (-1), and probability.
            "readings": [
                {
                    "terms": [{"feature": name, "sign": sign} for name, sign in reading.terms],
                    "probability": reading.probability,
                }
                for reading in fitted.readings
            ],
            "entropy_bits": fitted.entropy_bits,
            "prior_entropy_bits": fitted.prior_entropy_bits,
            "choices": fitted.choices,
        },
    )
    if fitted.heldout_accuracy is not None:
        RL_REWARD_MODEL_ACCURACY.set(fitted.heldout_accuracy)
    return row


def refit_after_choice(session: Session, runtime: Runtime, user_ref: str | None) -> None:
    """Refits and commits the shared model, and `user_ref`'s own when given. Nothing with
    `refit_window` 0 or the dense prior (which needs torch: training runs fit it)."""
    config = runtime.settings.rl.reward_model
    if config.refit_window == 0 or config.prior != "sparse":
        return
    shared = _refit(session, runtime, None, prior=None)
    if shared is None:
        return
    if user_ref is not None:
        # The perfumer's own model starts from what every perfumer's choices taught.
        _refit(session, runtime, user_ref, prior=shared_prior(shared, config.dense_mass))
    session.commit()


def _refit(
    session: Session, runtime: Runtime, user_ref: str | None, *, prior: Vector | None
) -> FittedReward | None:
    """The model fitted on `user_ref`'s latest preferences (every perfumer's: None), stored
    (flushed); None when there are none."""
    config = runtime.settings.rl.reward_model
    pairs = preference_pairs(session, user_ref, latest=config.refit_window)
    if not pairs:
        return None
    table = material_table(runtime.catalogue)
    data = preference_features(session, table, pairs)
    # Seeded by how many preferences it saw: the same preferences give the same model.
    fitted = fit_sparse_reward(
        data.chosen,
        data.rejected,
        reward_feature_names(table),
        config,
        seed=len(pairs),
        choices=data.choices,
        prior=prior,
        # The served model only: its held-out check would double the perfumer's wait. A
        # training run's reward model reports one.
        check=False,
    )
    store_reward_model(
        session,
        runtime.settings.policies_root,
        fitted,
        run=None,
        user_ref=user_ref,
        trigger="choice",
    )
    return fitted

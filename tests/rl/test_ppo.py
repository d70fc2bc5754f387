"""PPO's pieces: schedules, masks, determinism, and that it learns a simple reward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.rl import woody_not_sweet_reward
from fragrance_ai.rl.actions import action_names
from fragrance_ai.rl.checkpoints import encode_checkpoint
from fragrance_ai.rl.environment import FormulaEnv, Start
from fragrance_ai.rl.evaluation import evaluate_policy
from fragrance_ai.rl.exported import ExportedPolicy
from fragrance_ai.rl.features import state_feature_names
from fragrance_ai.rl.materials import MaterialTable
from fragrance_ai.rl.ppo import PPOTrainer, build_agent, entropy_coefficient
from fragrance_ai.rl.weights_file import decode
from fragrance_ai.settings import PPOSettings, RLSettings


def _trainer(table: MaterialTable, starts: list[Start], seed: int) -> PPOTrainer:
    config = RLSettings()
    env = FormulaEnv(
        table,
        starts,
        num_envs=config.ppo.num_envs,
        horizon=config.ppo.horizon,
        terms=config.reward,
        reward=woody_not_sweet_reward(table),
        rng=np.random.default_rng(seed),
    )
    agent = build_agent(
        len(state_feature_names(table)), len(action_names(table)), config.ppo.hidden, seed
    )
    return PPOTrainer(config.ppo, env, agent, seed)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_entropy_coefficient_anneals_from_start_to_end(schedule: str) -> None:
    config = PPOSettings(ent_coef_start=0.1, ent_coef_end=0.01, ent_schedule=schedule)
    assert entropy_coefficient(config, 0.0) == pytest.approx(0.1)
    assert entropy_coefficient(config, 1.0) == pytest.approx(0.01)
    middle = entropy_coefficient(config, 0.5)
    assert middle == pytest.approx(0.055)
    assert entropy_coefficient(config, 0.25) > middle > entropy_coefficient(config, 0.75)


def test_masked_actions_are_never_sampled(table: MaterialTable, starts: list[Start]) -> None:
    trainer = _trainer(table, starts, seed=1)
    trainer.update(1, 2)
    taken = trainer.actions.reshape(-1)
    masks = trainer.masks.reshape(taken.shape[0], -1)
    assert masks[torch.arange(taken.shape[0]), taken].all()


def test_two_trainers_with_the_same_seed_end_with_identical_weights(
    table: MaterialTable, starts: list[Start]
) -> None:
    def weights(seed: int) -> bytes:
        trainer = _trainer(table, starts, seed)
        for update in range(1, 4):
            trainer.update(update, 3)
        return encode_checkpoint(
            trainer.agent,
            feature_names=state_feature_names(table),
            action_names=action_names(table),
            update=3,
            seed=seed,
            hidden=64,
            config={},
        )

    assert weights(4) == weights(4)
    assert weights(4) != weights(5)


def test_ppo_raises_the_reward_it_is_trained_on(table: MaterialTable, starts: list[Start]) -> None:
    config = RLSettings()
    reward = woody_not_sweet_reward(table)

    def evaluate(agent: object) -> float:
        return evaluate_policy(
            table,
            starts,
            agent,  # type: ignore[arg-type]
            horizon=config.ppo.horizon,
            terms=config.reward,
            reward=reward,
            samples=4,
            seed=7,
        ).mean_return

    trainer = _trainer(table, starts, seed=2)
    untrained = evaluate(None)
    for update in range(1, 21):
        metrics = trainer.update(update, 20)
        assert np.isfinite(metrics.loss)
    assert evaluate(trainer.agent) > untrained + 0.3


def test_the_exported_policy_computes_the_trainers_logits(
    table: MaterialTable, starts: list[Start]
) -> None:
    trainer = _trainer(table, starts, seed=3)
    trainer.update(1, 1)
    features, actions = state_feature_names(table), action_names(table)
    blob = encode_checkpoint(
        trainer.agent,
        feature_names=features,
        action_names=actions,
        update=1,
        seed=3,
        hidden=64,
        config={},
    )
    arrays, metadata = decode(blob)
    exported = ExportedPolicy.from_arrays(
        arrays, metadata, feature_names=features, action_names=actions
    )
    states = trainer.obs[0]
    with torch.no_grad():
        expected = trainer.agent.actor(states).numpy()
    assert np.allclose(exported.logits(states.numpy()), expected, atol=1e-5)

"""How good a policy's edits are: episodes from fixed held-out formulas, scored with the
same reward the trainer uses, under a fixed seed so two policies meet the same draws.

The initial policy (None) picks uniformly among the allowed actions, as the API's
proposals do before any policy is active.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from fragrance_ai.rl.environment import FormulaEnv, Start
from fragrance_ai.rl.exported import ExportedReward
from fragrance_ai.rl.materials import MaterialTable
from fragrance_ai.rl.ppo import Agent
from fragrance_ai.settings import RewardTermsSettings


@dataclass(frozen=True)
class Evaluation:
    # Mean over episodes of the summed reward (not normalised).
    mean_return: float
    preference_gain: float
    fit_gain: float
    compliant_share: float
    episodes: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def evaluate_policy(
    table: MaterialTable,
    starts: list[Start],
    agent: Agent | None,
    *,
    horizon: int,
    terms: RewardTermsSettings,
    reward: ExportedReward | None,
    samples: int,
    seed: int,
) -> Evaluation:
    episodes = [start for start in starts for _ in range(samples)]
    rng = np.random.default_rng(seed)
    env = FormulaEnv(
        table,
        episodes,
        num_envs=len(episodes),
        horizon=horizon,
        terms=terms,
        reward=reward,
        rng=rng,
    )
    generator = torch.Generator().manual_seed(seed)
    states, masks = env.reset_to(episodes)
    total = np.zeros(len(episodes))
    preference = np.zeros(len(episodes))
    fit = np.zeros(len(episodes))
    compliant = np.ones(len(episodes), dtype=bool)
    for _ in range(horizon):
        alive = masks.any(axis=1)
        actions = _choose(agent, states, masks, rng, generator)
        actions[~alive] = -1
        result = env.step(actions, auto_reset=False)
        total += np.where(alive, result.rewards, 0.0)
        preference += np.where(alive, result.preference_gain, 0.0)
        fit += np.where(alive, result.fit_gain, 0.0)
        compliant = result.compliant
        states, masks = result.states, result.masks
    return Evaluation(
        mean_return=float(total.mean()),
        preference_gain=float(preference.mean()),
        fit_gain=float(fit.mean()),
        compliant_share=float(compliant.mean()),
        episodes=len(episodes),
    )


def _choose(
    agent: Agent | None,
    states: np.ndarray,
    masks: np.ndarray,
    rng: np.random.Generator,
    generator: torch.Generator,
) -> np.ndarray:
    if agent is None:
        keys = np.where(masks, rng.random(masks.shape), -1.0)
        return np.asarray(keys.argmax(axis=1), dtype=np.int64)
    with torch.no_grad():
        action, _, _, _ = agent.get_action_and_value(
            torch.from_numpy(states), torch.from_numpy(masks), generator=generator
        )
    return np.asarray(action.numpy(), dtype=np.int64)

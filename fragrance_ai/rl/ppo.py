"""Proximal Policy Optimization over formula edits, after CleanRL's `ppo.py`.

Read top to bottom: the agent (actor and critic MLPs, orthogonal init), the schedules, then
one update: rollout of `num_steps` x `num_envs` samples into fixed storage, generalized
advantage estimation, and `update_epochs` passes of minibatches with the clipped surrogate
objective, the (clipped) value loss and the entropy bonus, stopping early when the
approximate KL passes `target_kl`. Names follow the paper and CleanRL (`b_logprobs`,
`approx_kl`, `clipfracs`); figures are logged under CleanRL's tags (`losses/approx_kl`).

What differs from CleanRL: invalid actions are masked out of the categorical (an action
that cannot change the formula is never sampled), rewards are normalised by a running
estimate of the discounted return's spread (gym's NormalizeReward), the entropy
coefficient is annealed (linear or cosine), and every random draw comes from generators
seeded by the run, so a run repeats bit for bit on the same machine.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

from fragrance_ai.rl.environment import FormulaEnv
from fragrance_ai.settings import PPOSettings

MASKED_LOGIT = -1e8


def layer_init(layer: nn.Linear, std: float = math.sqrt(2), bias_const: float = 0.0) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    def __init__(self, state_size: int, action_count: int, hidden: int) -> None:
        super().__init__()
        self.critic = nn.Sequential(
            layer_init(nn.Linear(state_size, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, 1), std=1.0),
        )
        self.actor = nn.Sequential(
            layer_init(nn.Linear(state_size, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, action_count), std=0.01),
        )

    def get_value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x)  # type: ignore[no-any-return]

    def masked_logits(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, self.actor(x), torch.full_like(mask, MASKED_LOGIT, dtype=x.dtype))

    def get_action_and_value(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        action: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        logits = self.masked_logits(x, mask)
        probs = Categorical(logits=logits)
        if action is None:
            # Gumbel-max with the run's generator: Categorical.sample() would draw from
            # torch's global generator, which anything else in the process may advance.
            uniform = torch.rand(logits.shape, generator=generator).clamp_(1e-12, 1.0)
            action = (logits - torch.log(-torch.log(uniform))).argmax(dim=1)
        logprob = probs.log_prob(action)  # type: ignore[no-untyped-call]
        return action, logprob, _masked_entropy(probs, mask), self.critic(x)

    def act(
        self, x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The rollout's path: an action, its log-probability and the state's value, without
        building a distribution object or the entropy the rollout does not use."""
        logits = self.masked_logits(x, mask)
        log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        uniform = torch.rand(logits.shape, generator=generator).clamp_(1e-12, 1.0)
        action = (logits - torch.log(-torch.log(uniform))).argmax(dim=1)
        return action, log_probs.gather(1, action[:, None]).squeeze(1), self.critic(x)


def _masked_entropy(probs: Categorical, mask: torch.Tensor) -> torch.Tensor:
    # Masked actions have probability 0; their p log p must count as 0, not NaN.
    p_log_p = torch.where(mask, probs.probs * probs.logits, torch.zeros_like(probs.probs))
    return -p_log_p.sum(dim=1)


def build_agent(state_size: int, action_count: int, hidden: int, seed: int) -> Agent:
    """Initial weights from the run's seed, without touching torch's global generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Agent(state_size, action_count, hidden)


def entropy_coefficient(config: PPOSettings, fraction_done: float) -> float:
    start, end = config.ent_coef_start, config.ent_coef_end
    if config.ent_schedule == "linear":
        return end + (start - end) * (1.0 - fraction_done)
    if config.ent_schedule == "cosine":
        return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * fraction_done))
    return start


class RunningMeanStd:
    """Welford's parallel algorithm, as in gym's NormalizeReward."""

    def __init__(self) -> None:
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4

    def update(self, values: np.ndarray) -> None:
        batch_mean, batch_var, batch_count = float(values.mean()), float(values.var()), values.size
        delta = batch_mean - self.mean
        total = self.count + batch_count
        self.mean += delta * batch_count / total
        m2 = (
            self.var * self.count
            + batch_var * batch_count
            + delta**2 * self.count * batch_count / total
        )
        self.var, self.count = m2 / total, total


@dataclass(frozen=True)
class UpdateMetrics:
    update: int
    global_step: int
    learning_rate: float
    ent_coef: float
    value_loss: float
    policy_loss: float
    loss: float
    entropy: float
    old_approx_kl: float
    approx_kl: float
    # KL between the policy before the update and after it, over the whole batch: what
    # the rollback watches (the minibatch figure above stops an update's epochs early).
    batch_kl: float
    clipfrac: float
    explained_variance: float
    reward: float
    preference_gain: float
    fit_gain: float
    compliant_share: float
    epochs_run: int
    sps: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def scalars(self) -> dict[str, float]:
        """CleanRL's tags."""
        return {
            "charts/learning_rate": self.learning_rate,
            "charts/ent_coef": self.ent_coef,
            "charts/reward": self.reward,
            "charts/preference_gain": self.preference_gain,
            "charts/compliant_share": self.compliant_share,
            "charts/SPS": self.sps,
            "losses/value_loss": self.value_loss,
            "losses/policy_loss": self.policy_loss,
            "losses/entropy": self.entropy,
            "losses/old_approx_kl": self.old_approx_kl,
            "losses/approx_kl": self.approx_kl,
            "losses/batch_kl": self.batch_kl,
            "losses/clipfrac": self.clipfrac,
            "losses/explained_variance": self.explained_variance,
        }


class PPOTrainer:
    def __init__(self, config: PPOSettings, env: FormulaEnv, agent: Agent, seed: int) -> None:
        if env.num_envs != config.num_envs:
            raise ValueError("the environment's num_envs differs from the config's")
        self.config = config
        self.env = env
        self.agent = agent
        self.optimizer = torch.optim.Adam(agent.parameters(), lr=config.learning_rate, eps=1e-5)
        self.generator = torch.Generator().manual_seed(seed)
        self.batch_size = config.num_envs * config.num_steps
        self.minibatch_size = max(self.batch_size // config.num_minibatches, 1)
        self.global_step = 0
        self.return_rms = RunningMeanStd()
        self._discounted = np.zeros(config.num_envs)
        states, masks = env.reset()
        self.next_obs = torch.from_numpy(states)
        self.next_mask = torch.from_numpy(masks)
        self.next_done = torch.zeros(config.num_envs)
        shape = (config.num_steps, config.num_envs)
        self.obs = torch.zeros((*shape, states.shape[1]))
        self.masks = torch.zeros((*shape, masks.shape[1]), dtype=torch.bool)
        self.actions = torch.zeros(shape, dtype=torch.long)
        self.logprobs = torch.zeros(shape)
        self.rewards = torch.zeros(shape)
        self.dones = torch.zeros(shape)
        self.values = torch.zeros(shape)

    # One function on purpose, like CleanRL's loop body: rollout, GAE and the epochs read
    # top to bottom in the order they run.
    def update(  # noqa: PLR0915
        self, update: int, total_updates: int, lr_factor: float = 1.0
    ) -> UpdateMetrics:
        """One PPO update (numbered from 1): a rollout, then the optimisation epochs."""
        config, env, agent = self.config, self.env, self.agent
        started = time.perf_counter()
        fraction_done = (update - 1.0) / total_updates
        lr_now = config.learning_rate * (1.0 - fraction_done if config.anneal_lr else 1.0)
        self.optimizer.param_groups[0]["lr"] = lr_now * lr_factor
        ent_coef = entropy_coefficient(config, fraction_done)

        raw_rewards, preference, fit, compliant = [], [], [], []
        for step in range(config.num_steps):
            self.global_step += config.num_envs
            self.obs[step] = self.next_obs
            self.masks[step] = self.next_mask
            self.dones[step] = self.next_done
            with torch.inference_mode():
                action, logprob, value = agent.act(self.next_obs, self.next_mask, self.generator)
            self.values[step] = value.flatten()
            self.actions[step] = action
            self.logprobs[step] = logprob
            result = env.step(action.numpy())
            raw_rewards.append(result.rewards)
            preference.append(result.preference_gain)
            fit.append(result.fit_gain)
            compliant.append(result.compliant)
            self.rewards[step] = torch.from_numpy(self._normalise(result.rewards, result.dones))
            self.next_obs = torch.from_numpy(result.states)
            self.next_mask = torch.from_numpy(result.masks)
            self.next_done = torch.from_numpy(result.dones.astype(np.float32))

        # Generalized advantage estimation.
        with torch.no_grad():
            next_value = agent.get_value(self.next_obs).reshape(1, -1)
            advantages = torch.zeros_like(self.rewards)
            lastgaelam = torch.zeros(config.num_envs)
            for t in reversed(range(config.num_steps)):
                if t == config.num_steps - 1:
                    nextnonterminal = 1.0 - self.next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - self.dones[t + 1]
                    nextvalues = self.values[t + 1]
                delta = (
                    self.rewards[t] + config.gamma * nextvalues * nextnonterminal - self.values[t]
                )
                lastgaelam = delta + config.gamma * config.gae_lambda * nextnonterminal * lastgaelam
                advantages[t] = lastgaelam
            returns = advantages + self.values

        b_obs = self.obs.reshape(self.batch_size, -1)
        b_masks = self.masks.reshape(self.batch_size, -1)
        b_logprobs = self.logprobs.reshape(-1)
        b_actions = self.actions.reshape(-1)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = self.values.reshape(-1)

        clipfracs: list[float] = []
        epochs_run = 0
        old_approx_kl = approx_kl = torch.zeros(())
        v_loss = pg_loss = entropy_loss = loss = torch.zeros(())
        for _epoch in range(config.update_epochs):
            epochs_run += 1
            b_inds = torch.randperm(self.batch_size, generator=self.generator)
            for start in range(0, self.batch_size, self.minibatch_size):
                mb_inds = b_inds[start : start + self.minibatch_size]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                    b_obs[mb_inds], b_masks[mb_inds], b_actions[mb_inds]
                )
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()
                with torch.no_grad():
                    old_approx_kl = (-logratio).mean()
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfracs.append(((ratio - 1.0).abs() > config.clip_coef).float().mean().item())

                mb_advantages = b_advantages[mb_inds]
                mb_advantages = (mb_advantages - mb_advantages.mean()) / (
                    mb_advantages.std() + 1e-8
                )
                pg_loss1 = -mb_advantages * ratio
                pg_loss2 = -mb_advantages * torch.clamp(
                    ratio, 1 - config.clip_coef, 1 + config.clip_coef
                )
                pg_loss = torch.max(pg_loss1, pg_loss2).mean()

                newvalue = newvalue.view(-1)
                if config.clip_vloss:
                    v_loss_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                    v_clipped = b_values[mb_inds] + torch.clamp(
                        newvalue - b_values[mb_inds], -config.clip_coef, config.clip_coef
                    )
                    v_loss_clipped = (v_clipped - b_returns[mb_inds]) ** 2
                    v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
                else:
                    v_loss = 0.5 * ((newvalue - b_returns[mb_inds]) ** 2).mean()

                entropy_loss = entropy.mean()
                loss = pg_loss - ent_coef * entropy_loss + v_loss * config.vf_coef

                self.optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm)
                self.optimizer.step()

            if config.target_kl is not None and approx_kl.item() > config.target_kl:
                break

        with torch.no_grad():
            _, final_logprob, _, _ = agent.get_action_and_value(b_obs, b_masks, b_actions)
            final_logratio = final_logprob - b_logprobs
            batch_kl = ((final_logratio.exp() - 1) - final_logratio).mean().item()
        y_pred, y_true = b_values.numpy(), b_returns.numpy()
        var_y = float(np.var(y_true))
        explained_var = math.nan if var_y == 0 else 1 - float(np.var(y_true - y_pred)) / var_y
        return UpdateMetrics(
            update=update,
            global_step=self.global_step,
            learning_rate=self.optimizer.param_groups[0]["lr"],
            ent_coef=ent_coef,
            value_loss=v_loss.item(),
            policy_loss=pg_loss.item(),
            loss=loss.item(),
            entropy=entropy_loss.item(),
            old_approx_kl=old_approx_kl.item(),
            approx_kl=approx_kl.item(),
            batch_kl=batch_kl,
            clipfrac=float(np.mean(clipfracs)) if clipfracs else 0.0,
            explained_variance=explained_var,
            reward=float(np.mean(raw_rewards)),
            preference_gain=float(np.mean(preference)),
            fit_gain=float(np.mean(fit)),
            compliant_share=float(np.mean(compliant)),
            epochs_run=epochs_run,
            sps=self.batch_size / max(time.perf_counter() - started, 1e-9),
        )

    def _normalise(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        if not self.config.norm_reward:
            return rewards.astype(np.float32)
        self._discounted = self._discounted * self.config.gamma + rewards
        self.return_rms.update(self._discounted)
        self._discounted[dones] = 0.0
        return (rewards / math.sqrt(self.return_rms.var + 1e-8)).astype(np.float32)

    # -------------------------------------------------------------- checkpoint state

    def snapshot(self) -> dict[str, Any]:
        """Everything a rollback restores: weights, optimiser moments, reward scale."""
        return {
            "agent": {k: v.detach().clone() for k, v in self.agent.state_dict().items()},
            "optimizer": _clone(self.optimizer.state_dict()),
            "return_rms": (self.return_rms.mean, self.return_rms.var, self.return_rms.count),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.agent.load_state_dict(snapshot["agent"])
        self.optimizer.load_state_dict(_clone(snapshot["optimizer"]))
        self.return_rms.mean, self.return_rms.var, self.return_rms.count = snapshot["return_rms"]


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value

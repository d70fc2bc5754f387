"""PPO speed against a minimal CleanRL loop, and the simulated perfumer's learning curve.

    .venv/bin/python -m bench.rl [--rounds 5] [--updates 10] [--seeds 3] [--choices 150]

1. Speed: environment steps per second for rollout plus update, our trainer
   (fragrance_ai.rl.ppo) against a minimal CleanRL-style PPO loop written below (CleanRL's
   ppo.py with masked logits: Categorical sampling, tensors built per step, NumPy-shuffled
   minibatches) with the same network size, on the same formula environment, the two
   alternating in one run. Goal: ratio at least 1.0.
2. Learning: for each seed, a fresh installation (SQLite, in-process queue) driven through
   its HTTP API by a simulated perfumer who prefers woody, not sweet, and then by one with
   the opposite taste: choices, a training run, the per-update curve, the reward model's
   held-out accuracy, and the taste gain of the proposals before and after training with a
   permutation test.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from fastapi.testclient import TestClient
from torch import nn
from torch.distributions.categorical import Categorical

from bench.perfumer import WOODY_NOT_SWEET, ExperimentResult, run_experiment
from fragrance_ai.api.app import create_app
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.designer import RuleBasedDesigner
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.rl.actions import action_names
from fragrance_ai.rl.environment import FormulaEnv, Start
from fragrance_ai.rl.exported import ExportedReward
from fragrance_ai.rl.features import BriefContext, reward_feature_names, state_feature_names
from fragrance_ai.rl.materials import MaterialTable, material_table
from fragrance_ai.rl.ppo import MASKED_LOGIT, Agent, PPOTrainer, build_agent
from fragrance_ai.runtime import build_runtime, install_runtime
from fragrance_ai.settings import PPOSettings, QueueSettings, RLSettings, Settings

SPEED_BRIEFS = (
    "warm amber EDP for winter with vanilla",
    "fresh citrus cologne for summer with a woody base",
    "green floral eau de toilette",
    "spicy woody perfume with leather",
)


def designed_starts(table: MaterialTable, texts: tuple[str, ...] = SPEED_BRIEFS) -> list[Start]:
    """Two rule-based formulas per brief, with their briefs: episode starts without a
    database (the benchmark's and the unit tests')."""
    parser = DeterministicBriefParser(table.catalogue)
    starts = []
    for text in texts:
        brief = parser.parse(text)
        for designed in RuleBasedDesigner(table.catalogue).design(brief, count=2):
            formula = designed.formula
            starts.append(
                Start(
                    table.vector_of(formula),
                    formula.product,
                    formula.dosage_percent,
                    BriefContext.of(table, brief),
                )
            )
    return starts


def woody_not_sweet_reward(table: MaterialTable) -> ExportedReward:
    """A fixed reward model that likes woody and dislikes sweet materials."""
    names = reward_feature_names(table)
    weights = np.zeros(len(names))
    weights[names.index("share:family:woody")] = 5.0
    weights[names.index("share:descriptor:sweet")] = -5.0
    return ExportedReward(weights[None, :], np.zeros(len(names)), np.ones(len(names)), names)


def environment(table: MaterialTable, config: RLSettings, seed: int) -> FormulaEnv:
    return FormulaEnv(
        table,
        designed_starts(table),
        num_envs=config.ppo.num_envs,
        horizon=config.ppo.horizon,
        terms=config.reward,
        reward=woody_not_sweet_reward(table),
        rng=np.random.default_rng(seed),
    )


# ------------------------------------------------------------- the CleanRL-style baseline


class CleanRLAgent(Agent):
    """The same network; CleanRL's action sampling (a Categorical from torch's global
    generator, the entropy computed every step)."""

    def get_action_and_value(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        action: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        logits = torch.where(mask, self.actor(x), torch.tensor(MASKED_LOGIT))
        probs = Categorical(logits=logits)
        if action is None:
            action = probs.sample()  # type: ignore[no-untyped-call]
        return action, probs.log_prob(action), probs.entropy(), self.critic(x)  # type: ignore[no-untyped-call]


# CleanRL's loop is one long function; kept so, to stay recognisably its.
def cleanrl_updates(  # noqa: PLR0915
    env: FormulaEnv, args: PPOSettings, updates: int, seed: int
) -> float:
    """CleanRL's ppo.py loop body, `updates` times; returns the seconds it took."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    states, masks = env.reset()
    agent = CleanRLAgent(states.shape[1], masks.shape[1], args.hidden)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    batch_size = args.num_envs * args.num_steps
    minibatch_size = batch_size // args.num_minibatches
    obs = torch.zeros((args.num_steps, args.num_envs, states.shape[1]))
    action_masks = torch.zeros((args.num_steps, args.num_envs, masks.shape[1]), dtype=torch.bool)
    actions = torch.zeros((args.num_steps, args.num_envs), dtype=torch.long)
    logprobs = torch.zeros((args.num_steps, args.num_envs))
    rewards = torch.zeros((args.num_steps, args.num_envs))
    dones = torch.zeros((args.num_steps, args.num_envs))
    values = torch.zeros((args.num_steps, args.num_envs))
    next_obs = torch.Tensor(states)
    next_mask = torch.tensor(masks)
    next_done = torch.zeros(args.num_envs)
    started = time.perf_counter()
    for update in range(1, updates + 1):
        frac = 1.0 - (update - 1.0) / updates
        optimizer.param_groups[0]["lr"] = frac * args.learning_rate
        for step in range(args.num_steps):
            obs[step] = next_obs
            action_masks[step] = next_mask
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs, next_mask)
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob
            result = env.step(action.cpu().numpy())
            rewards[step] = torch.tensor(result.rewards).view(-1)
            next_obs = torch.Tensor(result.states)
            next_mask = torch.tensor(result.masks)
            next_done = torch.Tensor(result.dones.astype(np.float32))
        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            lastgaelam = torch.zeros(args.num_envs)
            for t in reversed(range(args.num_steps)):
                if t == args.num_steps - 1:
                    nextnonterminal = 1.0 - next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - dones[t + 1]
                    nextvalues = values[t + 1]
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                lastgaelam = delta + args.gamma * args.gae_lambda * nextnonterminal * lastgaelam
                advantages[t] = lastgaelam
            returns = advantages + values
        b_obs = obs.reshape((batch_size, -1))
        b_masks = action_masks.reshape((batch_size, -1))
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape(-1)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)
        b_inds = np.arange(batch_size)
        for _epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            for start in range(0, batch_size, minibatch_size):
                mb_inds = b_inds[start : start + minibatch_size]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                    b_obs[mb_inds], b_masks[mb_inds], b_actions[mb_inds]
                )
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - logratio).mean()
                mb_advantages = b_advantages[mb_inds]
                mb_advantages = (mb_advantages - mb_advantages.mean()) / (
                    mb_advantages.std() + 1e-8
                )
                pg_loss = torch.max(
                    -mb_advantages * ratio,
                    -mb_advantages * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef),
                ).mean()
                newvalue = newvalue.view(-1)
                v_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                v_clipped = b_values[mb_inds] + torch.clamp(
                    newvalue - b_values[mb_inds], -args.clip_coef, args.clip_coef
                )
                v_loss = 0.5 * torch.max(v_unclipped, (v_clipped - b_returns[mb_inds]) ** 2).mean()
                loss = pg_loss - args.ent_coef_start * entropy.mean() + v_loss * args.vf_coef
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()
            if args.target_kl is not None and approx_kl > args.target_kl:
                break
    return time.perf_counter() - started


def ours_updates(env: FormulaEnv, config: RLSettings, updates: int, seed: int) -> float:
    states, masks = env.reset()
    agent = build_agent(states.shape[1], masks.shape[1], config.ppo.hidden, seed)
    trainer = PPOTrainer(config.ppo, env, agent, seed)
    started = time.perf_counter()
    for update in range(1, updates + 1):
        trainer.update(update, updates)
    return time.perf_counter() - started


def speed(rounds: int, updates: int) -> None:
    table = material_table(load_catalogue())
    config = RLSettings()
    samples = updates * config.ppo.num_envs * config.ppo.num_steps
    print(
        f"speed: {rounds} rounds x {updates} updates x {config.ppo.num_envs} envs x "
        f"{config.ppo.num_steps} steps; state {len(state_feature_names(table))}, "
        f"actions {len(action_names(table))}, hidden {config.ppo.hidden}; "
        f"torch threads {torch.get_num_threads()}"
    )
    ours, baseline = [], []
    for round_index in range(rounds):
        # Alternating, so drift in the machine's load hits both alike.
        ours.append(
            samples
            / ours_updates(environment(table, config, round_index), config, updates, round_index)
        )
        baseline.append(
            samples
            / cleanrl_updates(
                environment(table, config, round_index), config.ppo, updates, round_index
            )
        )
    ratios = [o / b for o, b in zip(ours, baseline, strict=True)]
    for name, figures in (("ours", ours), ("CleanRL", baseline)):
        runs = [round(x) for x in figures]
        print(f"  {name:8s} steps/s median {statistics.median(figures):8.0f}  runs {runs}")
    per_round = [round(r, 3) for r in ratios]
    print(
        f"  ratio ours/CleanRL median {statistics.median(ratios):.3f} (goal >= 1.0), "
        f"per round {per_round}"
    )


def learning(seeds: int, choices: int, updates: int) -> None:
    catalogue = load_catalogue()
    print(f"\nlearning: {seeds} seeds x 2 tastes, {choices} variation choices, {updates} updates")
    results: list[ExperimentResult] = []
    for seed in range(1, seeds + 1):
        for taste in (WOODY_NOT_SWEET, WOODY_NOT_SWEET.opposite()):
            with tempfile.TemporaryDirectory() as directory:
                settings = Settings(
                    _env_file=None,
                    data_dir=Path(directory),
                    queue=QueueSettings(retry_intervals_s=[]),
                    rl=RLSettings(auto_train_every=0),
                )
                runtime = build_runtime(settings)
                upgrade_to_head(runtime.engine)
                try:
                    with TestClient(create_app(runtime)) as client:
                        started = time.perf_counter()
                        result = run_experiment(
                            client, catalogue, taste, seed=seed, rounds=choices, updates=updates
                        )
                        elapsed = time.perf_counter() - started
                finally:
                    runtime.close()
                    install_runtime(None)
            results.append(result)
            accuracy = result.heldout_accuracy
            print(
                f"  seed {seed} taste {taste.name!r}: {result.choices} choices, "
                f"{result.preferences} preferences, held-out accuracy "
                f"{'n/a' if accuracy is None else f'{accuracy:.3f}'}; taste gain per "
                f"variation {np.mean(result.before):+.4f} -> {np.mean(result.after):+.4f} "
                f"(d = {result.effect_size:.2f}, p = {result.p_value:.2g}); {elapsed:.0f} s"
            )
            curve = result.run["updates"]
            print(
                "    curve (update: reward, preference gain, entropy, KL): "
                + "; ".join(
                    f"{u['update']}: {u['reward']:+.3f}, {u['preference_gain']:+.3f}, "
                    f"{u['entropy']:.2f}, {u['batch_kl']:.3f}"
                    for u in curve[:: max(len(curve) // 6, 1)]
                )
            )
            print(f"    decision: {result.run['metrics']['decision']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--choices", type=int, default=150)
    parser.add_argument("--train-updates", type=int, default=30)
    parser.add_argument("--skip", choices=["speed", "learning"], action="append", default=[])
    args = parser.parse_args()
    if "speed" not in args.skip:
        speed(args.rounds, args.updates)
    if "learning" not in args.skip:
        learning(args.seeds, args.choices, args.train_updates)


if __name__ == "__main__":
    main()

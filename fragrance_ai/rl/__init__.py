"""Learning from perfumers' choices: reward model, PPO policy, checkpoints."""

"""A training run's orchestration: starting one (at most one at a time) and running it on the
RL worker. Its SQL lives in db/training.py, the algorithms in rl/."""

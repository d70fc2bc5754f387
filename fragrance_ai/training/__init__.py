"""Learning from choices, as use cases: proposing variations (variations.py, with the models
serving.py loads), recording a perfumer's choice (choices.py), starting a training run, at
most one at a time (start.py), running it on the RL worker (run.py, with data.py,
recorder.py and redelivery.py), the runs on record (history.py) and which policy serves
(policies.py). Their SQL lives in db/training.py, the algorithms in rl/."""

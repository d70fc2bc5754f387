"""The use cases behind the queues: the steps a worker runs (steps.py), putting work on the
queues (submit.py), and a job's lifecycle, the one owner of its status (lifecycle.py).

The step functions are also named here because RQ stores a job's function by its dotted
path: jobs enqueued by 0.2.0 (`fragrance_ai.jobs.parse_brief`) still run after an upgrade.
"""

from fragrance_ai.jobs.steps import design_formulas, parse_brief, train_policy

__all__ = ["design_formulas", "parse_brief", "train_policy"]

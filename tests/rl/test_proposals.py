"""Variations ranked by a reward model: the first is the edit its posterior mean likes best,
the next ones each member's best, so the perfumer's choice tells its readings apart."""

from __future__ import annotations

import numpy as np

from fragrance_ai.rl.actions import action_names, apply_actions, plan_actions
from fragrance_ai.rl.environment import Start
from fragrance_ai.rl.exported import ExportedReward
from fragrance_ai.rl.features import reward_feature_names, reward_features
from fragrance_ai.rl.materials import MaterialTable
from fragrance_ai.rl.proposals import _rows, propose_variations


def _liking(table: MaterialTable, *features: str) -> np.ndarray:
    names = reward_feature_names(table)
    weights = np.zeros(len(names))
    for feature in features:
        weights[names.index(feature)] = 1.0
    return weights


def _best_edit(table: MaterialTable, start: Start, weights: np.ndarray) -> str:
    """The allowed edit whose formula the weights score highest, by name."""
    amounts = start.amounts[None, :]
    caps = table.caps(start.product, start.dosage_percent)[None, :]
    plan = plan_actions(table, amounts, caps, start.context.protected[None, :])
    allowed = np.flatnonzero(plan.valid[0])
    after = apply_actions(
        table, np.repeat(amounts, allowed.size, axis=0), _rows(plan, allowed), allowed
    )
    repeat = allowed.size
    features = reward_features(
        table,
        after,
        np.repeat(start.context.family_target[None, :], repeat, axis=0),
        np.repeat(start.context.tier_targets[None, :], repeat, axis=0),
    )
    return action_names(table)[int(allowed[int(np.argmax(features @ weights))])]


def test_the_first_variation_is_the_means_best_edit_and_the_others_each_members_best(
    table: MaterialTable, starts: list[Start]
) -> None:
    start = starts[0]
    parent = table.formula_of(start.amounts, start.product, start.dosage_percent)
    centre = _liking(table, "share:family:woody")
    members = np.stack(
        [_liking(table, "share:family:citrus"), _liking(table, "share:family:floral")]
    )
    size = centre.size
    reward = ExportedReward(
        members, np.zeros(size), np.ones(size), reward_feature_names(table), centre
    )

    proposals = propose_variations(
        table,
        parent,
        start.context,
        count=3,
        rng=np.random.default_rng(5),
        reward=reward,
        rank="reward_model",
    )

    names = [str(p.action["action"]) for p in proposals]
    assert names[0] == _best_edit(table, start, centre)
    assert set(names[1:]) == {_best_edit(table, start, member) for member in members}
    # Ranked by the policy instead, the same draw proposes otherwise.
    drawn = propose_variations(
        table,
        parent,
        start.context,
        count=3,
        rng=np.random.default_rng(5),
        reward=reward,
        rank="policy",
    )
    assert [str(p.action["action"]) for p in drawn] != names

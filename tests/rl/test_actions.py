"""The action set: every allowed action changes the formula and keeps it whole."""

from __future__ import annotations

import numpy as np
import pytest

from fragrance_ai.domain.compliance import Verdict
from fragrance_ai.rl.actions import (
    MAX_MATERIALS,
    MIN_MATERIALS,
    Operation,
    action_count,
    action_names,
    apply_actions,
    plan_actions,
)
from fragrance_ai.rl.environment import Start
from fragrance_ai.rl.features import BriefContext
from fragrance_ai.rl.materials import MaterialTable
from fragrance_ai.rl.proposals import propose_variations
from tests.rl.conftest import amounts_of


def _plan(table: MaterialTable, starts: list[Start]):  # type: ignore[no-untyped-def]
    amounts = amounts_of(starts)
    caps = np.stack([table.caps(s.product, s.dosage_percent) for s in starts])
    protected = np.stack([s.context.protected for s in starts])
    return amounts, caps, protected, plan_actions(table, amounts, caps, protected)


def test_every_allowed_action_changes_the_formula_and_keeps_100_percent(
    table: MaterialTable, starts: list[Start]
) -> None:
    amounts, _caps, _, plan = _plan(table, starts)
    assert plan.valid.shape == (len(starts), action_count(table))
    tried = 0
    for row in range(len(starts)):
        for action in np.flatnonzero(plan.valid[row]):
            after = apply_actions(
                table, amounts[row : row + 1], _row(plan, row), np.array([action])
            )
            assert abs(after.sum() - 100.0) < 1e-9
            assert np.abs(after[0] - amounts[row]).sum() > 0.01, action_names(table)[action]
            # No action grows a formula past the largest size or shrinks it below the
            # smallest (a designed formula may already sit outside them).
            before, count = int((amounts[row] > 0).sum()), int((after[0] > 0).sum())
            assert count <= max(before, MAX_MATERIALS)
            assert count >= min(before, MIN_MATERIALS)
            tried += 1
    assert tried > 100


def test_masked_actions_are_refused(table: MaterialTable, starts: list[Start]) -> None:
    amounts, _, _, plan = _plan(table, starts)
    masked = np.flatnonzero(~plan.valid[0])
    assert masked.size > 0
    with pytest.raises(ValueError, match="not allowed"):
        apply_actions(table, amounts[:1], _row(plan, 0), masked[:1])


def test_materials_the_brief_names_are_never_removed_or_swapped(
    table: MaterialTable, starts: list[Start]
) -> None:
    _amounts, _, protected, plan = _plan(table, starts)
    families = len(table.families)
    assert protected.any(), "the fixtures should name some materials"
    for row in range(len(starts)):
        for operation in (Operation.SWAP, Operation.REMOVE):
            columns = range(operation * families, (operation + 1) * families)
            for action in columns:
                if plan.valid[row, action]:
                    assert not protected[row, plan.source[row, action]]


def test_proposals_are_distinct_compliant_and_differ_from_the_parent(
    table: MaterialTable, starts: list[Start]
) -> None:
    start = starts[0]
    parent = table.formula_of(start.amounts, start.product, start.dosage_percent)
    proposals = propose_variations(
        table, parent, start.context, count=4, rng=np.random.default_rng(3)
    )
    assert len(proposals) == 4
    keys = set()
    for proposal in proposals:
        assert proposal.report.verdict is Verdict.COMPLIANT
        assert abs(proposal.formula.total_percent() - 100) < 1e-6
        key = tuple((line.cas, round(line.percent, 2)) for line in proposal.formula.lines)
        assert key != tuple((line.cas, round(line.percent, 2)) for line in parent.lines)
        keys.add(key)
    assert len(keys) == 4


def test_the_same_seed_proposes_the_same_variations(
    table: MaterialTable, starts: list[Start]
) -> None:
    start = starts[2]
    parent = table.formula_of(start.amounts, start.product, start.dosage_percent)

    def actions(seed: int) -> list[object]:
        return [
            p.action
            for p in propose_variations(
                table, parent, start.context, count=3, rng=np.random.default_rng(seed)
            )
        ]

    assert actions(11) == actions(11)
    assert any(actions(11) != actions(seed) for seed in range(12, 20))


def test_a_formula_without_a_brief_has_no_target(table: MaterialTable) -> None:
    context = BriefContext.none(table)
    assert not context.family_target.any()
    assert not context.protected.any()


def _row(plan, row: int):  # type: ignore[no-untyped-def]
    from fragrance_ai.rl.actions import ActionPlan

    return ActionPlan(
        source=plan.source[row : row + 1],
        target=plan.target[row : row + 1],
        amount=plan.amount[row : row + 1],
        valid=plan.valid[row : row + 1],
    )

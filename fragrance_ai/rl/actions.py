"""The edits a policy can make to a formula, for many formulas at once.

An action is an operation on one family: `raise woody` makes the formula's largest woody
material 1.5 times larger, `lower`, `swap` (for the closest material of the same tier and
family that is not in the formula yet), `add` (an accent of the family's material that
blends best with the formula) and `remove` (its smallest material of the family). Naming
actions by family keeps their number fixed (operations x families) whatever the formula, and
gives them a meaning a taste can be learnt in ("woodier, less sweet").

Every action changes the formula or is masked out: nothing to raise (no material of that
family, or it is at its limit), nothing to swap to, a formula already at its largest or
smallest size. The other materials are scaled so the concentrate stays 100 %. Materials a
brief names are never removed or swapped away. Compliance is not checked here: training
rewards it, and a proposal is repaired before anyone sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from fragrance_ai.rl.materials import MaterialTable, Vector

STEP_FACTOR = 1.5
ACCENT_PERCENT = 1.0
# No single material over this share of the concentrate (as in the optimiser).
MAX_SHARE_PERCENT = 30.0
MIN_MATERIALS = 5
MAX_MATERIALS = 25
# A smaller change is no change: the action is masked.
MIN_CHANGE_PERCENT = 0.01


class Operation(IntEnum):
    RAISE = 0
    LOWER = 1
    SWAP = 2
    ADD = 3
    REMOVE = 4


def action_count(table: MaterialTable) -> int:
    return len(Operation) * len(table.families)


def action_names(table: MaterialTable) -> tuple[str, ...]:
    return tuple(
        f"{operation.name.lower()} {family}" for operation in Operation for family in table.families
    )


@dataclass(frozen=True)
class ActionPlan:
    """For each formula (rows) and action (columns): the material it changes (`source`),
    the material it brings in (`target`, for swap and add), the new amount, and whether the
    action is allowed at all."""

    source: npt.NDArray[np.int64]
    target: npt.NDArray[np.int64]
    amount: Vector
    valid: npt.NDArray[np.bool_]


def plan_actions(
    table: MaterialTable,
    amounts: Vector,
    caps: Vector,
    protected: npt.NDArray[np.bool_],
) -> ActionPlan:
    """`amounts`, `caps` and `protected` are (formulas x materials)."""
    n, families = amounts.shape[0], len(table.families)
    member = table.family_member.T[None, :, :]  # 1 x F x M
    present = (amounts > 0)[:, None, :]  # N x 1 x M
    held = present & member
    counts = (amounts > 0).sum(axis=1)
    amount_of = np.broadcast_to(amounts[:, None, :], (n, families, amounts.shape[1]))
    upper = np.minimum(caps, MAX_SHARE_PERCENT)

    largest = np.where(held, amount_of, -np.inf).argmax(axis=2)  # N x F
    has_member = held.any(axis=2)
    current = np.take_along_axis(amounts, largest, axis=1)
    raised = np.minimum(current * STEP_FACTOR, np.take_along_axis(upper, largest, axis=1))
    lowered = np.maximum(
        current / STEP_FACTOR, np.take_along_axis(table.use_min_percent[None, :], largest, axis=1)
    )

    movable = held & ~protected[:, None, :]
    swap_source = np.where(movable, amount_of, -np.inf).argmax(axis=2)
    remove_source = np.where(movable, amount_of, np.inf).argmin(axis=2)
    has_movable = movable.any(axis=2)

    welcome = ~present & member & (caps > 0)[:, None, :]  # N x F x M
    same_tier = table.tier_index[None, None, :] == table.tier_index[swap_source][:, :, None]
    closeness = table.similarity[swap_source]  # N x F x M
    swap_options = welcome & same_tier
    swap_target = np.where(swap_options, closeness, -np.inf).argmax(axis=2)
    swap_amount = _clip_to_range(
        table, caps, np.take_along_axis(amounts, swap_source, 1), swap_target
    )

    profile = amounts @ table.character  # N x K
    blend = np.einsum("nk,mk->nm", profile, table.character)[:, None, :]
    add_target = np.where(welcome, np.broadcast_to(blend, welcome.shape), -np.inf).argmax(axis=2)
    add_amount = _clip_to_range(table, caps, np.full((n, families), ACCENT_PERCENT), add_target)

    valid = np.concatenate(
        [
            has_member & (raised > current + MIN_CHANGE_PERCENT),
            has_member & (lowered < current - MIN_CHANGE_PERCENT),
            has_movable & swap_options.any(axis=2) & (swap_amount > 0),
            welcome.any(axis=2) & (counts < MAX_MATERIALS)[:, None] & (add_amount > 0),
            has_movable & (counts > MIN_MATERIALS)[:, None],
        ],
        axis=1,
    )
    no_target = np.full((n, families), -1, dtype=np.int64)
    return ActionPlan(
        source=np.concatenate([largest, largest, swap_source, no_target, remove_source], axis=1),
        target=np.concatenate([no_target, no_target, swap_target, add_target, no_target], axis=1),
        amount=np.concatenate(
            [raised, lowered, swap_amount, add_amount, np.zeros((n, families))], axis=1
        ),
        valid=valid,
    )


def _clip_to_range(
    table: MaterialTable, caps: Vector, wanted: Vector, material: npt.NDArray[np.int64]
) -> Vector:
    """`wanted` percent of `material`, within its usual range and its limit."""
    low = table.use_min_percent[material]
    high = np.minimum(np.take_along_axis(caps, material, axis=1), MAX_SHARE_PERCENT)
    return np.asarray(np.minimum(np.maximum(wanted, low), high))


def apply_actions(
    table: MaterialTable, amounts: Vector, plan: ActionPlan, actions: npt.NDArray[np.int64]
) -> Vector:
    """The formulas after one action each; the untouched materials are scaled so that
    each concentrate is 100 % again. An action of -1 leaves its formula as it is (a
    formula with nothing left to do, in evaluation)."""
    families = len(table.families)
    result = amounts.copy()
    for row, action in enumerate(actions.tolist()):
        if action < 0:
            continue
        if not plan.valid[row, action]:
            raise ValueError(f"action {action} is not allowed on formula {row}")
        operation = Operation(action // families)
        source, target = int(plan.source[row, action]), int(plan.target[row, action])
        amount = float(plan.amount[row, action])
        formula = result[row]
        fixed: list[int] = []
        if operation in (Operation.RAISE, Operation.LOWER):
            formula[source] = amount
            fixed = [source]
        elif operation is Operation.SWAP:
            formula[source] = 0.0
            formula[target] = amount
            fixed = [target]
        elif operation is Operation.ADD:
            formula[target] = amount
            fixed = [target]
        else:
            formula[source] = 0.0
        fixed_total = float(formula[fixed].sum()) if fixed else 0.0
        others = formula.sum() - fixed_total
        scale = (100.0 - fixed_total) / others
        keep = formula[fixed].copy()
        formula *= scale
        formula[fixed] = keep
    return result


def describe(
    table: MaterialTable, before: Vector, plan: ActionPlan, row: int, action: int
) -> dict[str, object]:
    """The action in a perfumer's words, for the variation's record."""
    families = len(table.families)
    operation = Operation(action // families)
    source, target = int(plan.source[row, action]), int(plan.target[row, action])
    amount = round(float(plan.amount[row, action]), 4)
    described: dict[str, object] = {
        "action": action_names(table)[action],
        "operation": operation.name.lower(),
        "family": table.families[action % families],
    }
    if source >= 0:
        described["material"] = table.materials[source].name
        described["from_percent"] = round(float(before[source]), 4)
    if operation in (Operation.RAISE, Operation.LOWER):
        described["to_percent"] = amount
    if target >= 0:
        described["new_material"] = table.materials[target].name
        described["new_percent"] = amount
    return described

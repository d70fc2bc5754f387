"""Variations of a formula, proposed by a policy and repaired to `compliant`.

Runs in the API process, not as a job: a proposal is one forward pass of a small MLP in
NumPy plus a repair per variation (well under 10 ms for three), so a perfumer gets the
variations in the answer instead of a job id to follow, and the API still never imports
torch. Training, which needs torch and minutes, is the job.

Choosing n distinct actions, with a reward model (`rank="reward_model"`, the default
setting rl.proposals): every allowed edit is scored. The first variation is the edit the
reward ensemble's mean scores highest, the best guess at the perfumer's taste; each next
one is the best edit for one member of the ensemble in turn (members in an order the seed
draws): with the sparse reward model each member is a reading of the taste drawn from its
posterior, so the perfumer's choice among them tells the readings apart (Thompson
sampling) and every choice teaches as much as it can.

With the policy (`rank="policy"`, or without a reward model): Gumbel-top-k over the
policy's masked logits draws n actions without replacement in proportion to the policy;
with a reward ensemble the keys also get a bonus for the members' disagreement on the
variation they lead to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from fragrance_ai.domain.compliance import ComplianceReport, Verdict
from fragrance_ai.domain.formula import Formula
from fragrance_ai.domain.repair import repair_formula
from fragrance_ai.rl.actions import ActionPlan, apply_actions, describe, plan_actions
from fragrance_ai.rl.exported import ExportedPolicy, ExportedReward
from fragrance_ai.rl.features import BriefContext, reward_features, state_features
from fragrance_ai.rl.materials import MaterialTable, Vector

# Candidates looked at per variation asked for: a few fall away to repair or duplication.
CANDIDATES_PER_VARIATION = 3


@dataclass(frozen=True)
class Proposal:
    formula: Formula
    action: dict[str, object]
    # The policy's probability of the action among the allowed ones.
    probability: float
    # The reward ensemble's disagreement on the variation; None without a reward model.
    uncertainty: float | None
    # Share of the concentrate the repair moved to make the variation compliant.
    repair_moved_percent: float
    report: ComplianceReport


def propose_variations(
    table: MaterialTable,
    parent: Formula,
    context: BriefContext,
    *,
    count: int,
    rng: np.random.Generator,
    policy: ExportedPolicy | None = None,
    reward: ExportedReward | None = None,
    exploration: float = 0.0,
    rank: Literal["reward_model", "policy"] = "policy",
) -> list[Proposal]:
    """Up to `count` distinct compliant variations, fewer when the formula allows fewer."""
    amounts = table.vector_of(parent)[None, :]
    caps = table.caps(parent.product, parent.dosage_percent)[None, :]
    plan = plan_actions(table, amounts, caps, context.protected[None, :])
    allowed = np.flatnonzero(plan.valid[0])
    if allowed.size == 0:
        return []
    targets = context.family_target[None, :]
    tiers = context.tier_targets[None, :]
    logits = np.zeros(plan.valid.shape[1])
    if policy is not None:
        logits = policy.logits(state_features(table, amounts, targets, tiers))[0]
    masked = logits[allowed] - logits[allowed].max()
    probabilities = np.exp(masked) / np.exp(masked).sum()
    keys = np.log(probabilities) + rng.gumbel(size=allowed.size)
    uncertainty: Vector | None
    if reward is not None and rank == "reward_model":
        candidates, after, uncertainty = _ranked_by_reward(
            table,
            amounts,
            plan,
            allowed=allowed,
            targets=targets,
            tiers=tiers,
            reward=reward,
            rng=rng,
        )
    else:
        candidates, after, uncertainty = _drawn_from_policy(
            table,
            amounts,
            plan,
            allowed=allowed,
            keys=keys,
            count=count,
            targets=targets,
            tiers=tiers,
            reward=reward,
            exploration=exploration,
        )
    probability_of = dict(zip(allowed.tolist(), probabilities.tolist(), strict=True))

    proposals: list[Proposal] = []
    seen = {_key(parent)}
    for index, action in enumerate(candidates.tolist()):
        if len(proposals) == count:
            break
        variation = table.formula_of(after[index], parent.product, parent.dosage_percent)
        repaired = repair_formula(variation, table.catalogue)
        if repaired.formula is None or repaired.report.verdict is not Verdict.COMPLIANT:
            continue
        key = _key(repaired.formula)
        if key in seen:
            continue
        seen.add(key)
        proposals.append(
            Proposal(
                formula=repaired.formula,
                action=describe(table, amounts[0], plan, 0, action),
                probability=probability_of[action],
                uncertainty=None if uncertainty is None else float(uncertainty[index]),
                repair_moved_percent=repaired.moved_percent,
                report=repaired.report,
            )
        )
    return proposals


def _ranked_by_reward(
    table: MaterialTable,
    amounts: Vector,
    plan: ActionPlan,
    *,
    allowed: npt.NDArray[np.int64],
    targets: Vector,
    tiers: Vector,
    reward: ExportedReward,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.int64], Vector, Vector]:
    """Every allowed edit, in the order described at the top: the mean's best, then each
    member's best in turn, then the rest by the mean."""
    size = allowed.size
    after = apply_actions(table, np.repeat(amounts, size, axis=0), _rows(plan, allowed), allowed)
    features = reward_features(
        table, after, np.repeat(targets, size, axis=0), np.repeat(tiers, size, axis=0)
    )
    members = reward.member_scores(features)
    mean = reward.score(features)
    order: list[int] = [int(np.argmax(mean))]
    for member in rng.permutation(members.shape[1]).tolist():
        scores = members[:, member].copy()
        scores[order] = -np.inf
        if np.isfinite(scores).any():
            order.append(int(np.argmax(scores)))
    taken = set(order)
    order += [int(k) for k in np.argsort(-mean, kind="stable") if int(k) not in taken]
    ranked = np.asarray(order)
    return allowed[ranked], after[ranked], members.std(axis=1)[ranked]


def _drawn_from_policy(
    table: MaterialTable,
    amounts: Vector,
    plan: ActionPlan,
    *,
    allowed: npt.NDArray[np.int64],
    keys: Vector,
    count: int,
    targets: Vector,
    tiers: Vector,
    reward: ExportedReward | None,
    exploration: float,
) -> tuple[npt.NDArray[np.int64], Vector, Vector | None]:
    order = np.argsort(-keys, kind="stable")[: count * CANDIDATES_PER_VARIATION]
    candidates = allowed[order]
    after = apply_actions(
        table, np.repeat(amounts, candidates.size, axis=0), _rows(plan, candidates), candidates
    )
    uncertainty = None
    if reward is not None:
        repeat = candidates.size
        features = reward_features(
            table, after, np.repeat(targets, repeat, axis=0), np.repeat(tiers, repeat, axis=0)
        )
        uncertainty = reward.uncertainty(features)
        if exploration > 0:
            bonus = exploration * uncertainty / max(float(uncertainty.mean()), 1e-9)
            reorder = np.argsort(-(keys[order] + bonus), kind="stable")
            candidates, after, uncertainty = (
                candidates[reorder],
                after[reorder],
                uncertainty[reorder],
            )
    return candidates, after, uncertainty


def _rows(plan: ActionPlan, candidates: npt.NDArray[np.int64]) -> ActionPlan:
    """The single formula's plan, repeated once per candidate action."""
    size = candidates.size
    return ActionPlan(
        source=np.repeat(plan.source, size, axis=0),
        target=np.repeat(plan.target, size, axis=0),
        amount=np.repeat(plan.amount, size, axis=0),
        valid=np.repeat(plan.valid, size, axis=0),
    )


def _key(formula: Formula) -> tuple[tuple[str, float], ...]:
    return tuple(sorted((line.cas, round(line.percent, 2)) for line in formula.lines))

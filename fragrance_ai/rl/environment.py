"""Many formulas edited at once: the environment PPO collects its rollouts from.

Each of `num_envs` slots holds a formula (a start drawn from stored formulas, with its
brief), takes one action per step and returns, as arrays for every slot at once:

- the next state (features.state_features) and the mask of allowed actions;
- the reward: the change in the reward model's score (what the perfumers preferred), plus
  the change in brief fit, minus a penalty while the formula is not `compliant`
  (domain.population: the same rules as the compliance engine, for many formulas at once);
- whether the episode ended (after `horizon` edits); the slot then starts a new formula,
  as gym's vector environments do, and the state returned is the new start's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fragrance_ai.domain.population import COMPLIANT, check_population
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.rules import RuleBook, rule_book
from fragrance_ai.rl.actions import ActionPlan, apply_actions, plan_actions
from fragrance_ai.rl.exported import ExportedReward
from fragrance_ai.rl.features import BriefContext, brief_fit, reward_features, state_features
from fragrance_ai.rl.materials import MaterialTable, Vector
from fragrance_ai.settings import RewardTermsSettings


@dataclass(frozen=True)
class Start:
    """A formula to start an episode from, with its brief."""

    amounts: Vector
    product: ProductType
    dosage_percent: float
    context: BriefContext


@dataclass(frozen=True)
class StepResult:
    states: npt.NDArray[np.float32]
    masks: npt.NDArray[np.bool_]
    rewards: Vector
    dones: npt.NDArray[np.bool_]
    # Raw terms of the reward, for the logs: preference, brief fit, compliant (0/1).
    preference_gain: Vector
    fit_gain: Vector
    compliant: npt.NDArray[np.bool_]


class FormulaEnv:
    def __init__(
        self,
        table: MaterialTable,
        starts: list[Start],
        *,
        num_envs: int,
        horizon: int,
        terms: RewardTermsSettings,
        reward: ExportedReward | None,
        rng: np.random.Generator,
    ) -> None:
        if not starts:
            raise ValueError("an environment needs at least one start formula")
        self.table = table
        self.starts = starts
        self.num_envs = num_envs
        self.horizon = horizon
        self.terms = terms
        self.reward = reward
        self.rng = rng
        size, families = table.size, len(table.families)
        self.amounts = np.zeros((num_envs, size))
        self.caps = np.zeros((num_envs, size))
        self.protected = np.zeros((num_envs, size), dtype=bool)
        self.targets = np.zeros((num_envs, families))
        self.tiers = np.zeros((num_envs, 3))
        self.products: list[ProductType] = [ProductType.EDP] * num_envs
        self.dosages = np.zeros(num_envs)
        self.elapsed = np.zeros(num_envs, dtype=np.int64)
        self._plan: ActionPlan | None = None
        # Per (product, dosage): the rule book and where each table row sits in it.
        self._books: dict[tuple[ProductType, float], tuple[RuleBook, npt.NDArray[np.int64]]] = {}

    # ---------------------------------------------------------------- episodes

    def reset(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        for slot in range(self.num_envs):
            self._begin(slot, self.starts[int(self.rng.integers(len(self.starts)))])
        return self._observe()

    def reset_to(
        self, starts: list[Start]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        """Slots set to these starts in order (evaluation); len(starts) == num_envs."""
        for slot, start in enumerate(starts):
            self._begin(slot, start)
        return self._observe()

    def _begin(self, slot: int, start: Start) -> None:
        self.amounts[slot] = start.amounts
        self.caps[slot] = self.table.caps(start.product, start.dosage_percent)
        self.protected[slot] = start.context.protected
        self.targets[slot] = start.context.family_target
        self.tiers[slot] = start.context.tier_targets
        self.products[slot] = start.product
        self.dosages[slot] = start.dosage_percent
        self.elapsed[slot] = 0

    def _observe(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        self._plan = plan_actions(self.table, self.amounts, self.caps, self.protected)
        states = state_features(self.table, self.amounts, self.targets, self.tiers)
        return states.astype(np.float32), self._plan.valid

    # ---------------------------------------------------------------- one step

    def step(self, actions: npt.NDArray[np.int64], *, auto_reset: bool = True) -> StepResult:
        assert self._plan is not None, "reset() first"
        before_score, before_fit = self._scores(self.amounts)
        self.amounts = apply_actions(self.table, self.amounts, self._plan, actions)
        after_score, after_fit = self._scores(self.amounts)
        compliant = self._compliant(self.amounts)
        preference_gain = after_score - before_score
        fit_gain = after_fit - before_fit
        rewards = (
            self.terms.preference_weight * preference_gain
            + self.terms.brief_fit_weight * fit_gain
            - self.terms.noncompliance_penalty * (~compliant)
        )
        self.elapsed += 1
        dones = self.elapsed >= self.horizon
        if auto_reset:
            for slot in np.flatnonzero(dones):
                self._begin(int(slot), self.starts[int(self.rng.integers(len(self.starts)))])
        states, masks = self._observe()
        stuck = ~masks.any(axis=1)
        # A formula with no action left ends its episode early.
        if auto_reset and stuck.any():
            dones = dones | stuck
            for slot in np.flatnonzero(stuck):
                self._begin(int(slot), self.starts[int(self.rng.integers(len(self.starts)))])
            states, masks = self._observe()
        return StepResult(states, masks, rewards, dones, preference_gain, fit_gain, compliant)

    def _scores(self, amounts: Vector) -> tuple[Vector, Vector]:
        fit = brief_fit(self.table, amounts, self.targets)
        if self.reward is None:
            return np.zeros(self.num_envs), fit
        features = reward_features(self.table, amounts, self.targets, self.tiers)
        return self.reward.score(features), fit

    def _compliant(self, amounts: Vector) -> npt.NDArray[np.bool_]:
        compliant = np.zeros(self.num_envs, dtype=bool)
        keys = list(zip(self.products, self.dosages.tolist(), strict=True))
        for key in dict.fromkeys(keys):
            slots = np.array([k == key for k in keys])
            book, rows = self._book(*key)
            full = np.zeros((int(slots.sum()), len(book.material_cas)))
            full[:, rows] = amounts[slots]
            verdicts = check_population(full, book, key[1])
            compliant[slots] = verdicts.verdicts == COMPLIANT
        return compliant

    def _book(self, product: ProductType, dosage: float) -> tuple[RuleBook, npt.NDArray[np.int64]]:
        key = (product, dosage)
        if key not in self._books:
            book = rule_book(self.table.catalogue, product)
            index = book.material_index()
            rows = np.array([index[m.cas] for m in self.table.materials], dtype=np.int64)
            self._books[key] = (book, rows)
        return self._books[key]

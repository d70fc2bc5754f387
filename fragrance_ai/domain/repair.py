"""Makes a non-compliant formula compliant, or says why it cannot.

The repair keeps each tier's share of the concentrate (the pyramid) and moves as little as
it can:

1. Cap. For every substance over its limit, every material that brings it is scaled by
   `limit / level` (to 0 for a prohibited substance); a material under several violations
   takes the smallest factor. All coefficients are non-negative, so after this step no
   limited substance is over its limit.
2. Redistribute. The mass taken from a tier goes back to that tier's other materials, in
   proportion to their amounts, as far as every limited substance they bring has headroom
   and the phototoxic additive rule (one more linear constraint: the sum of level / limit
   over phototoxic substances at most 1) still allows.
   When a substance's headroom runs out, the materials bringing it stop receiving and the
   rest is poured again among the others.

Termination: step 1 is one pass. In step 2 every pour either places all that is left or
exhausts at least one substance's headroom for good (headroom only decreases), so a tier
takes at most `number of limited substances + 1` pours.

Infeasible is reported, never a formula stamped compliant, when a tier cannot take back its
freed mass. When the materials themselves make any formula with those tier shares
impossible (even the tier's cleanest material alone would breach a limit), the reason says
so as a proof; otherwise it names the substance whose headroom ran out.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from fragrance_ai.domain.catalogue import Catalogue, Ingredient, Tier
from fragrance_ai.domain.compliance import (
    PHOTOTOXIC_SUM_ID,
    ComplianceReport,
    Verdict,
    check_compliance,
)
from fragrance_ai.domain.formula import Formula
from fragrance_ai.domain.rules import TOLERANCE_PERCENT, RuleBook, rule_book

_EPSILON_PERCENT = 1e-9


class RepairChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    cas: str
    tier: Tier
    before_percent: float
    after_percent: float


class RepairResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    feasible: bool
    # The repaired formula (percent of the concentrate), only when feasible.
    formula: Formula | None
    changes: list[RepairChange]
    # Why it is infeasible, or what was done.
    reasons: list[str]
    # Half the sum of |after - before| over the lines: the share of the concentrate moved.
    moved_percent: float
    pours: int
    # Of the repaired formula when feasible, else of the original.
    report: ComplianceReport


class _Problem:
    """The formula as plain lists: amounts (percent of concentrate) and, per line, the level
    in the finished product each percent of it brings of each limited substance.

    A substance that cannot be certified here (no IFRA figure) gets a limit of 0, like a
    prohibited one: the repair takes its materials out rather than hand back a formula it
    cannot vouch for."""

    def __init__(self, formula: Formula, materials: list[Ingredient], book: RuleBook) -> None:
        scale = formula.dosage_percent / 100
        self.amounts = [line.percent for line in formula.lines]
        self.tiers = [line.tier for line in formula.lines]
        self.limits: dict[str, float] = {}
        self.names: dict[str, str] = {}
        self.coefficients: list[dict[str, float]] = []
        for material in materials:
            row: dict[str, float] = {}
            for substance_id, rule, fraction in book.shares_of(material):
                binding = rule.binding
                if fraction <= 0 or (binding is None and not rule.missing_reason):
                    continue
                allowed = 0.0 if rule.missing_reason or binding is None else binding.allowed_percent
                self.limits[substance_id] = allowed
                self.names[substance_id] = rule.substance.name
                row[substance_id] = row.get(substance_id, 0.0) + fraction * scale
                if rule.phototoxic_limit_percent:
                    self.limits[PHOTOTOXIC_SUM_ID] = 1.0
                    self.names[PHOTOTOXIC_SUM_ID] = "the phototoxic additive rule"
                    row[PHOTOTOXIC_SUM_ID] = (
                        row.get(PHOTOTOXIC_SUM_ID, 0.0)
                        + fraction * scale / rule.phototoxic_limit_percent
                    )
            self.coefficients.append(row)

    def levels(self, amounts: list[float]) -> dict[str, float]:
        levels = dict.fromkeys(self.limits, 0.0)
        for amount, row in zip(amounts, self.coefficients, strict=True):
            for substance_id, coefficient in row.items():
                levels[substance_id] += amount * coefficient
        return levels


def repair_formula(
    formula: Formula, catalogue: Catalogue, *, own_materials: dict[str, Ingredient] | None = None
) -> RepairResult:
    """The nearest `compliant` formula with the same pyramid, or why there is none. A
    material the engine cannot certify is removed (its share goes to its tier's others);
    a formula is never handed back `cannot_certify` as repaired."""
    own = own_materials or {}
    original_report = check_compliance(formula, catalogue, own_materials=own)
    if original_report.verdict is Verdict.COMPLIANT:
        return RepairResult(
            feasible=True,
            formula=formula,
            changes=[],
            reasons=["Already compliant; nothing changed."],
            moved_percent=0.0,
            pours=0,
            report=original_report,
        )
    unknown = [line for line in formula.lines if line.cas not in catalogue and line.cas not in own]
    if unknown:
        names = ", ".join(f"{line.name} ({line.cas})" for line in unknown)
        return _infeasible(
            formula,
            original_report,
            [f"Cannot be assessed, so cannot be repaired: {names}."],
            0,
        )

    materials = [catalogue.get(line.cas) or own[line.cas] for line in formula.lines]
    problem = _Problem(formula, materials, rule_book(catalogue, formula.product))
    amounts = _cap(problem)
    reasons = [_cap_summary(formula, amounts)]
    pours = 0
    for tier in Tier:
        failure, tier_pours = _redistribute(problem, amounts, tier)
        pours += tier_pours
        if failure is not None:
            proofs = _impossibility_proofs(problem)
            return _infeasible(formula, original_report, [failure, *proofs], pours)

    repaired = _rebuild(formula, amounts)
    report = check_compliance(repaired, catalogue, own_materials=own)
    if report.verdict is not Verdict.COMPLIANT:
        # Never reached if the two steps are right; the guard keeps a wrong formula from
        # ever being returned as repaired.
        return _infeasible(
            formula, original_report, ["The repair did not reach compliance."], pours
        )
    if original_report.review:
        reasons.append(
            "Taken out because the data has no figure to certify them here: "
            + ", ".join(sorted({item.substance for item in original_report.review}))
            + "."
        )
    return RepairResult(
        feasible=True,
        formula=repaired,
        changes=_changes(formula, amounts),
        reasons=reasons,
        moved_percent=_moved(problem.amounts, amounts),
        pours=pours,
        report=report,
    )


def _cap(problem: _Problem) -> list[float]:
    factors = [1.0] * len(problem.amounts)
    for substance_id, level in problem.levels(problem.amounts).items():
        allowed = problem.limits[substance_id]
        if level <= allowed + TOLERANCE_PERCENT:
            continue
        ratio = allowed / level
        for index, row in enumerate(problem.coefficients):
            if substance_id in row:
                factors[index] = min(factors[index], ratio)
    return [amount * factor for amount, factor in zip(problem.amounts, factors, strict=True)]


def _redistribute(problem: _Problem, amounts: list[float], tier: Tier) -> tuple[str | None, int]:
    """Pours the mass the cap took from `tier` back into its uncapped lines; returns why it
    could not, or None, and the number of pours."""
    members = [i for i, line_tier in enumerate(problem.tiers) if line_tier is tier]
    freed = remaining = sum(problem.amounts[i] - amounts[i] for i in members)
    if remaining <= _EPSILON_PERCENT:
        return None, 0
    headroom = {
        substance_id: problem.limits[substance_id] - level
        for substance_id, level in problem.levels(amounts).items()
    }
    uncapped = [i for i in members if amounts[i] >= problem.amounts[i] and amounts[i] > 0]
    exhausted: list[str] = []
    remaining, pours = _pour(
        problem,
        amounts,
        receivers=uncapped,
        remaining=remaining,
        headroom=headroom,
        exhausted=exhausted,
    )
    if remaining <= _EPSILON_PERCENT:
        return None, pours
    blocked = ""
    if exhausted:
        blocked = f" before {', '.join(dict.fromkeys(exhausted))} reached its limit"
    return (
        f"Infeasible within the {tier.value} tier: capping freed {freed:.4g} % of the "
        f"concentrate there, and the other {tier.value} materials could take back only "
        f"part of it{blocked}; {remaining:.4g} % is left with nowhere to go.",
        pours,
    )


def _pour(
    problem: _Problem,
    amounts: list[float],
    *,
    receivers: list[int],
    remaining: float,
    headroom: dict[str, float],
    exhausted: list[str],
) -> tuple[float, int]:
    """Shares `remaining` among `receivers` in proportion to their amounts, as far as the
    headroom allows. Each pour ends the loop or exhausts one more substance for good, so
    there are at most `len(limits) + 1` of them."""
    pours = 0
    for pours in range(1, len(problem.limits) + 2):
        receivers = [
            i for i in receivers if not any(headroom[s] <= 0 for s in problem.coefficients[i])
        ]
        if not receivers or remaining <= _EPSILON_PERCENT:
            return remaining, pours - 1
        total = sum(amounts[i] for i in receivers)
        shares = {i: remaining * amounts[i] / total for i in receivers}
        added: dict[str, float] = {}
        for i, share in shares.items():
            for substance_id, coefficient in problem.coefficients[i].items():
                added[substance_id] = added.get(substance_id, 0.0) + share * coefficient
        fraction, binding = 1.0, None
        for substance_id, extra in added.items():
            if extra > 0 and headroom[substance_id] / extra < fraction:
                fraction, binding = max(headroom[substance_id], 0.0) / extra, substance_id
        for i, share in shares.items():
            amounts[i] += fraction * share
        for substance_id, extra in added.items():
            headroom[substance_id] -= fraction * extra
        remaining -= fraction * remaining
        if binding is None:
            return 0.0, pours
        headroom[binding] = 0.0
        exhausted.append(problem.names[binding])
    return remaining, pours


def _impossibility_proofs(problem: _Problem) -> list[str]:
    """Substances that exceed their limit in EVERY formula with these materials and these
    tier shares: each tier's lowest possible contribution already adds up to too much."""
    proofs: list[str] = []
    tier_totals = {tier: 0.0 for tier in Tier}
    for amount, tier in zip(problem.amounts, problem.tiers, strict=True):
        tier_totals[tier] += amount
    for substance_id, allowed in problem.limits.items():
        lowest = 0.0
        for tier, total in tier_totals.items():
            rows = [
                problem.coefficients[i].get(substance_id, 0.0)
                for i, line_tier in enumerate(problem.tiers)
                if line_tier is tier
            ]
            if rows and total > 0:
                lowest += total * min(rows)
        if lowest > allowed + TOLERANCE_PERCENT:
            proofs.append(
                f"No formula of these materials with this pyramid can comply: even with each "
                f"tier made only of its material with the least {problem.names[substance_id]}, "
                f"it would be at {lowest:.6g} % of the product, over its {allowed:g} % limit."
            )
    return proofs


def _cap_summary(formula: Formula, amounts: list[float]) -> str:
    capped = [
        f"{line.name} {line.percent:g} -> {amount:.4g} %"
        for line, amount in zip(formula.lines, amounts, strict=True)
        if amount < line.percent - _EPSILON_PERCENT
    ]
    return (
        "Capped at the limits: "
        + "; ".join(capped)
        + "; the freed share was redistributed within each tier."
    )


def _rebuild(formula: Formula, amounts: list[float]) -> Formula:
    lines = [
        line.model_copy(update={"percent": min(amount, 100.0)})
        for line, amount in zip(formula.lines, amounts, strict=True)
        if amount > _EPSILON_PERCENT
    ]
    return formula.model_copy(update={"lines": lines})


def _changes(formula: Formula, amounts: list[float]) -> list[RepairChange]:
    return [
        RepairChange(
            name=line.name,
            cas=line.cas,
            tier=line.tier,
            before_percent=line.percent,
            after_percent=amount if amount > _EPSILON_PERCENT else 0.0,
        )
        for line, amount in zip(formula.lines, amounts, strict=True)
        if abs(amount - line.percent) > _EPSILON_PERCENT
    ]


def _moved(before: list[float], after: list[float]) -> float:
    return sum(abs(a - b) for a, b in zip(after, before, strict=True)) / 2


def _infeasible(
    formula: Formula, report: ComplianceReport, reasons: list[str], pours: int
) -> RepairResult:
    return RepairResult(
        feasible=False,
        formula=None,
        changes=[],
        reasons=reasons,
        moved_percent=0.0,
        pours=pours,
        report=report,
    )

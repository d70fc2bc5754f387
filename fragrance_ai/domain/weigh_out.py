"""The weigh-out sheet: what goes to the lab bench to make a batch of a formula.

Everything is counted in whole milligrams (a lab balance's last digit), so the lines add up
to the concentrate, and the concentrate and the solvent to the batch, exactly.
"""

from __future__ import annotations

import math
from fractions import Fraction

from pydantic import BaseModel, ConfigDict

from fragrance_ai.domain.catalogue import Tier
from fragrance_ai.domain.formula import Formula, FormulaLine
from fragrance_ai.domain.products import FINE_FRAGRANCE_CATEGORY, product_profile

# Least volatile first: the top notes wait on the bench the shortest time.
WEIGHING_ORDER: tuple[Tier, ...] = (Tier.BASE, Tier.HEART, Tier.TOP)
ORDER_RULE = (
    "Base materials first, then heart, then top (the most volatile last, so less of them "
    "evaporates while the rest is weighed); within a tier, the largest amount first. "
    "The solvent goes in last."
)
ETHANOL = "ethanol (perfumer's alcohol)"
PRODUCT_BASE = "product base"

_MG_PER_G = 1000


class WeighOutLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    step: int
    name: str
    cas: str
    tier: Tier
    percent_of_concentrate: float
    grams: float
    running_total_g: float


class Solvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    grams: float


class WeighOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    batch_g: float
    # Concentrate in the batch, %.
    dilution_percent: float
    concentrate_g: float
    lines: list[WeighOutLine]
    solvent: Solvent
    total_g: float
    order: str


def weigh_out(formula: Formula, batch_g: float, dilution_percent: float | None = None) -> WeighOut:
    """Grams per material for `batch_g` of finished product holding `dilution_percent` of
    the concentrate (the formula's own dosage when None; 100: the neat concentrate).

    The batch is rounded to the milligram, the concentrate to the nearest milligram of its
    share (halves up), and the concentrate is shared out by largest remainder: each line
    gets its exact share rounded down, and the milligrams left go one each to the lines
    that lost the most, so every line is under 1 mg from its exact share and the lines sum
    to the concentrate. A formula whose percentages sum to a little more or less than 100
    is scaled to its own total. Lines at 0 % are left out: there is nothing to weigh.
    """
    dilution = formula.dosage_percent if dilution_percent is None else dilution_percent
    if not 0 < dilution <= 100:
        raise ValueError(f"dilution must be above 0 and at most 100 %, not {dilution:g}")
    batch_mg = _half_up(Fraction(batch_g) * _MG_PER_G)
    if batch_mg < 1:
        raise ValueError(f"a batch of {batch_g:g} g is under the balance's 1 mg")
    lines = sorted((line for line in formula.lines if line.percent > 0), key=_weighing_key)
    if not lines:
        raise ValueError("the formula has no material to weigh")
    concentrate_mg = _half_up(batch_mg * Fraction(dilution) / 100)
    total_percent = sum(Fraction(line.percent) for line in lines)
    shares = [concentrate_mg * Fraction(line.percent) / total_percent for line in lines]
    weighed_mg = largest_remainder(shares, concentrate_mg)
    sheet: list[WeighOutLine] = []
    running_mg = 0
    for step, (line, mg) in enumerate(zip(lines, weighed_mg, strict=True), start=1):
        running_mg += mg
        sheet.append(
            WeighOutLine(
                step=step,
                name=line.name,
                cas=line.cas,
                tier=line.tier,
                percent_of_concentrate=line.percent,
                grams=_grams(mg),
                running_total_g=_grams(running_mg),
            )
        )
    return WeighOut(
        batch_g=_grams(batch_mg),
        dilution_percent=dilution,
        concentrate_g=_grams(concentrate_mg),
        lines=sheet,
        solvent=Solvent(name=solvent_name(formula), grams=_grams(batch_mg - concentrate_mg)),
        total_g=_grams(batch_mg),
        order=ORDER_RULE,
    )


def solvent_name(formula: Formula) -> str:
    """Fine fragrances (EDC, EDT, EDP, parfum: IFRA category 4) are diluted in perfumer's
    alcohol; any other product takes the concentrate into its own base."""
    fine = product_profile(formula.product).ifra_category == FINE_FRAGRANCE_CATEGORY
    return ETHANOL if fine else PRODUCT_BASE


def largest_remainder(shares: list[Fraction], total: int) -> list[int]:
    """Whole units for each share, summing to `total` (which must be the shares' sum
    rounded to a whole number): each share rounded down, then one more unit to each of the
    largest remainders, the earlier share first on a tie."""
    floors = [math.floor(share) for share in shares]
    left = total - sum(floors)
    if not 0 <= left <= len(shares):
        raise ValueError(f"{total} cannot be shared out as {shares}")
    by_remainder = sorted(range(len(shares)), key=lambda i: (floors[i] - shares[i], i))
    for index in by_remainder[:left]:
        floors[index] += 1
    return floors


def _weighing_key(line: FormulaLine) -> tuple[int, float, str, str]:
    return (WEIGHING_ORDER.index(line.tier), -line.percent, line.name, line.cas)


def _half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def _grams(milligrams: int) -> float:
    return milligrams / _MG_PER_G

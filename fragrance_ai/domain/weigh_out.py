"""The weigh-out sheet: what goes to the lab bench to make a batch of a formula.

Everything is counted in whole milligrams (a lab balance's last digit), so the lines add up
to the concentrate, and the concentrate and the solvent to the batch, exactly.

A powerful material is weighed as its stock dilution (`working_dilution`): 1.35 g of
vanillin is weighed as 13.5 g of "Vanillin 10 % in ethanol". The dilution's solvent (the
diluent) counts as part of the batch's solvent: the neat materials still make exactly the
concentrate at its dosage, and the solvent added last is less by the diluent the dilutions
brought, so what is weighed still adds up to the batch to the milligram. The finished product
holds every material at the designed level (the certificate and the allergen declaration
hold); only part of its carrier is the diluent (DPG in a functional base).
"""

from __future__ import annotations

import math
from fractions import Fraction

from pydantic import BaseModel, ConfigDict

from fragrance_ai.domain.catalogue import Tier
from fragrance_ai.domain.formula import Formula, FormulaLine
from fragrance_ai.domain.material_knowledge import KnowledgeBook
from fragrance_ai.domain.material_knowledge_file import load_knowledge
from fragrance_ai.domain.structures import load_structures
from fragrance_ai.domain.working_dilution import (
    NEAT,
    NEAT_PERCENT,
    WorkingDilution,
    working_dilution,
)

# Least volatile first: the top notes wait on the bench the shortest time.
WEIGHING_ORDER: tuple[Tier, ...] = (Tier.BASE, Tier.HEART, Tier.TOP)
ORDER_RULE = (
    "Base materials first, then heart, then top (the most volatile last, so less of them "
    "evaporates while the rest is weighed); within a tier, the largest amount first. "
    "The solvent goes in last."
)

_MG_PER_G = 1000


class WeighOutLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    step: int
    name: str
    cas: str
    tier: Tier
    percent_of_concentrate: float
    # What goes on the balance: the stock dilution's grams for a diluted material.
    grams: float
    running_total_g: float
    # The material itself in `grams`; equal to it when weighed neat.
    neat_grams: float
    # The material's share of what is weighed, percent; 100: neat.
    working_dilution_percent: float
    diluent: str | None
    # "Vanillin 10 % in ethanol", or the name when neat.
    weighed_as: str


class Solvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    grams: float


class WeighOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    batch_g: float
    # Concentrate in the batch, %.
    dilution_percent: float
    # The neat materials: the lines' neat_grams sum to it.
    concentrate_g: float
    lines: list[WeighOutLine]
    # Added last: the batch less what the lines weighed.
    solvent: Solvent
    total_g: float
    order: str
    # The solvent the stock dilutions brought, counted in the batch's solvent.
    diluents: list[Solvent]
    notes: list[str]


def weigh_out(
    formula: Formula,
    batch_g: float,
    dilution_percent: float | None = None,
    knowledge: KnowledgeBook | None = None,
) -> WeighOut:
    """Grams per material for `batch_g` of finished product holding `dilution_percent` of
    the concentrate (the formula's own dosage when None; 100: the neat concentrate).

    The batch is rounded to the milligram, the concentrate to the nearest milligram of its
    share (halves up), and the concentrate is shared out by largest remainder: each line
    gets its exact share rounded down, and the milligrams left go one each to the lines
    that lost the most, so every line's neat material is under 1 mg from its exact share
    and the lines sum to the concentrate. A formula whose percentages sum to a little more
    or less than 100 is scaled to its own total. Lines at 0 % are left out: there is
    nothing to weigh.

    A material the perfumery knowledge (`knowledge`, the packaged one when None) weighs
    diluted is weighed as its stock dilution: its neat milligrams times 100 over the
    dilution's percent, to the milligram (exact for the 50, 10, 1 and 0.1 % dilutions). The
    diluent comes out of the solvent added last. Where the dilutions would bring more
    solvent than the batch holds (the neat concentrate holds none), the lines with the most
    material are weighed neat instead, until the rest fit; the sheet's notes name them.
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
    neat_mg = largest_remainder(shares, concentrate_mg)
    book = load_knowledge() if knowledge is None else knowledge
    dilutions = [working_dilution(line.cas, formula.product, book) for line in lines]
    weighed_neat = _fit_dilutions(dilutions, neat_mg, room_mg=batch_mg - concentrate_mg)
    dilutions = [NEAT if i in weighed_neat else d for i, d in enumerate(dilutions)]
    sheet: list[WeighOutLine] = []
    diluent_mg: dict[str, int] = {}
    running_mg = 0
    for step, (line, mg, working) in enumerate(zip(lines, neat_mg, dilutions, strict=True), 1):
        weighed_mg = _dilution_mg(mg, working)
        if working.diluent is not None:
            name = working.diluent.name
            diluent_mg[name] = diluent_mg.get(name, 0) + weighed_mg - mg
        running_mg += weighed_mg
        sheet.append(
            WeighOutLine(
                step=step,
                name=line.name,
                cas=line.cas,
                tier=line.tier,
                percent_of_concentrate=line.percent,
                grams=_grams(weighed_mg),
                running_total_g=_grams(running_mg),
                neat_grams=_grams(mg),
                working_dilution_percent=working.percent,
                diluent=None if working.diluent is None else working.diluent.name,
                weighed_as=working.label(line.name),
            )
        )
    notes = []
    if weighed_neat:
        names = ", ".join(lines[index].name for index in sorted(weighed_neat))
        notes.append(
            f"Weighed neat, not as their stock dilutions: {names}. The dilutions' solvent "
            f"would be more than the {_grams(batch_mg - concentrate_mg):.3f} g of solvent "
            "the batch takes."
        )
    return WeighOut(
        batch_g=_grams(batch_mg),
        dilution_percent=dilution,
        concentrate_g=_grams(concentrate_mg),
        lines=sheet,
        solvent=Solvent(name=solvent_name(formula), grams=_grams(batch_mg - running_mg)),
        total_g=_grams(batch_mg),
        order=ORDER_RULE,
        diluents=[Solvent(name=name, grams=_grams(mg)) for name, mg in diluent_mg.items()],
        notes=notes,
    )


def solvent_name(formula: Formula) -> str:
    """The product base's carrier: perfumer's alcohol for EDC to parfum (and the other
    alcohol-based products), the lotion, the shampoo, the wax and so on for the rest."""
    return load_structures().product_base(formula.product).carrier


def _dilution_mg(neat_mg: int, working: WorkingDilution) -> int:
    """Milligrams of the stock dilution that hold `neat_mg` of the material."""
    if working.neat:
        return neat_mg
    return _half_up(neat_mg * Fraction(NEAT_PERCENT) / Fraction(str(working.percent)))


def _fit_dilutions(dilutions: list[WorkingDilution], neat_mg: list[int], room_mg: int) -> set[int]:
    """The lines (by index) to weigh neat so that the dilutions' solvent fits in `room_mg`:
    the ones with the most material first, as they are the easiest to weigh neat."""
    brought = [
        _dilution_mg(mg, working) - mg for mg, working in zip(neat_mg, dilutions, strict=True)
    ]
    excess = sum(brought) - room_mg
    weighed_neat: set[int] = set()
    for index in sorted(range(len(brought)), key=lambda i: (-neat_mg[i], i)):
        if excess <= 0:
            break
        if brought[index] > 0:
            weighed_neat.add(index)
            excess -= brought[index]
    return weighed_neat


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

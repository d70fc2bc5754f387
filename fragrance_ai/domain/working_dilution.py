"""How a perfumer weighs a material: neat, or as a stock dilution of it in a solvent.

Powerful materials are not weighed neat: 0.2 % of isobutyl quinoline in a 10 g trial is
20 mg, and a milligram off is 5 % of the dose. The lab keeps them as stock dilutions (10 %,
1 %, 0.1 %; `MaterialKnowledge.working_dilution_percent`) and weighs ten, a hundred or a
thousand times as much of the dilution. A formula line then reads "Isobutyl quinoline 1 %
in DPG: 20.00 % (= 0.20 % neat)".

The solvent of the dilutions (the diluent) follows the product's base:
- dipropylene glycol (DPG), the usual perfumery diluent: odourless, barely volatile (a stock
  dilution keeps its strength on the shelf and on the balance), and taken by every
  functional base (emulsions, surfactants, soap, detergents; diffuser bases are largely
  DPG already);
- ethanol (perfumer's alcohol) where the product itself is made up in perfumer's alcohol
  (EDC to parfum, hair spray, deodorant, air freshener spray): the dilutions' solvent is then
  the very solvent the batch is made up with, so nothing foreign enters the product.

Either way the diluent counts as part of the batch's solvent on the weigh-out sheet
(`weigh_out`): the neat materials still make the concentrate at the formula's dosage, and
the solvent added last is less by what the dilutions brought.
"""

from __future__ import annotations

from dataclasses import dataclass

from fragrance_ai.domain.material_knowledge import BASE_OF_PRODUCT, Base, KnowledgeBook
from fragrance_ai.domain.products import ProductType

NEAT_PERCENT = 100.0


@dataclass(frozen=True)
class Diluent:
    # As a formula line says it ("10 % in DPG").
    short: str
    # As the weigh-out sheet names it.
    name: str


DPG = Diluent(short="DPG", name="dipropylene glycol (DPG)")
ETHANOL = Diluent(short="ethanol", name="ethanol (perfumer's alcohol)")


def diluent_for(product: ProductType) -> Diluent:
    return ETHANOL if BASE_OF_PRODUCT[ProductType(product)] is Base.ALCOHOL else DPG


@dataclass(frozen=True)
class WorkingDilution:
    """The material's share of what is weighed, percent (100: neat), and the solvent it is
    diluted in (None when neat)."""

    percent: float
    diluent: Diluent | None

    @property
    def neat(self) -> bool:
        return self.diluent is None

    def as_weighed(self, neat_amount: float) -> float:
        """The amount of the dilution that holds `neat_amount` of the material."""
        return neat_amount * NEAT_PERCENT / self.percent

    def label(self, name: str) -> str:
        """The material as it is weighed: "Isobutyl quinoline 1 % in DPG"."""
        if self.diluent is None:
            return name
        return f"{name} {self.percent:g} % in {self.diluent.short}"


NEAT = WorkingDilution(percent=NEAT_PERCENT, diluent=None)


def working_dilution(cas: str, product: ProductType, knowledge: KnowledgeBook) -> WorkingDilution:
    """How the material is weighed for this product; neat when the knowledge does not know
    it (a perfumer's own material)."""
    known = knowledge.get(cas)
    if known is None or not 0 < known.working_dilution_percent < NEAT_PERCENT:
        return NEAT
    return WorkingDilution(percent=known.working_dilution_percent, diluent=diluent_for(product))

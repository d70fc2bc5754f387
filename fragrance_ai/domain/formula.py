"""A formula: materials as percentages of the concentrate, for one product."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fragrance_ai.domain.catalogue import Catalogue, Tier
from fragrance_ai.domain.products import ProductType


class FormulaLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    cas: str
    name: str
    tier: Tier
    # Percent of the concentrate, not of the finished product.
    percent: float = Field(ge=0, le=100)


class Formula(BaseModel):
    model_config = ConfigDict(frozen=True)

    lines: list[FormulaLine]
    product: ProductType
    # Concentrate in the finished product, %.
    dosage_percent: float = Field(gt=0, le=100)

    def total_percent(self) -> float:
        return round(sum(line.percent for line in self.lines), 6)

    def pyramid_shares(self) -> dict[Tier, float]:
        shares = dict.fromkeys(Tier, 0.0)
        for line in self.lines:
            shares[line.tier] += line.percent
        return {tier: round(share, 6) for tier, share in shares.items()}

    def percent_in_product(self, line: FormulaLine) -> float:
        return line.percent * self.dosage_percent / 100


def cost_per_kg_eur(formula: Formula, catalogue: Catalogue) -> float:
    """Cost of 1 kg of the concentrate (not of the diluted product)."""
    total = sum(
        line.percent / 100 * catalogue.by_cas(line.cas).price_per_kg_eur for line in formula.lines
    )
    return round(total, 2)

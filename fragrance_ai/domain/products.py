"""Finished-product types and what each implies for dosage and IFRA category."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ProductType(StrEnum):
    # Values are what the HTTP API accepts.
    EDC = "EDC"
    EDT = "EDT"
    EDP = "EDP"
    PARFUM = "parfum"
    BODY_LOTION = "body_lotion"
    CANDLE = "candle"


@dataclass(frozen=True)
class ProductProfile:
    product: ProductType
    label: str
    # Concentrate in the finished product, %. Mid-points of the usual trade ranges:
    # EDC 2-5, EDT 5-15, EDP 15-20, parfum/extrait 20-30, body lotion 0.5-1.5,
    # candle 6-10 (fragrance load in wax).
    default_dosage_percent: float
    ifra_category: str
    # Leave-on skin products get the strict allergen-labelling thresholds later.
    leave_on: bool


FINE_FRAGRANCE_CATEGORY = "4"

_PROFILES: dict[ProductType, ProductProfile] = {
    profile.product: profile
    for profile in (
        ProductProfile(ProductType.EDC, "eau de cologne", 4.0, FINE_FRAGRANCE_CATEGORY, True),
        ProductProfile(ProductType.EDT, "eau de toilette", 10.0, FINE_FRAGRANCE_CATEGORY, True),
        ProductProfile(ProductType.EDP, "eau de parfum", 18.0, FINE_FRAGRANCE_CATEGORY, True),
        ProductProfile(ProductType.PARFUM, "parfum (extrait)", 25.0, FINE_FRAGRANCE_CATEGORY, True),
        ProductProfile(ProductType.BODY_LOTION, "body lotion", 1.0, "5A", True),
        ProductProfile(ProductType.CANDLE, "scented candle", 8.0, "12", False),
    )
}


def product_profile(product: ProductType) -> ProductProfile:
    return _PROFILES[ProductType(product)]

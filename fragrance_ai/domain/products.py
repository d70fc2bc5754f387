"""Finished-product types and what each implies for dosage, IFRA category and EU law."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# The IFRA categories of the 49th Amendment onwards, in IFRA's order. Every substance under a
# restriction or prohibition carries a figure for each of them, or says none was found.
IFRA_CATEGORIES: tuple[str, ...] = (
    "1",
    "2",
    "3",
    "4",
    "5A",
    "5B",
    "5C",
    "5D",
    "6",
    "7A",
    "7B",
    "8",
    "9",
    "10A",
    "10B",
    "11A",
    "11B",
    "12",
)


class ProductType(StrEnum):
    # Values are what the HTTP API accepts.
    EDC = "EDC"
    EDT = "EDT"
    EDP = "EDP"
    PARFUM = "parfum"
    BODY_LOTION = "body_lotion"
    FACE_CREAM = "face_cream"
    HAND_CREAM = "hand_cream"
    DEODORANT = "deodorant"
    HAIR_SPRAY = "hair_spray"
    SHAMPOO = "shampoo"
    SHOWER_GEL = "shower_gel"
    SOAP = "soap"
    CANDLE = "candle"
    REED_DIFFUSER = "reed_diffuser"
    LAUNDRY_DETERGENT = "laundry_detergent"
    FABRIC_SOFTENER = "fabric_softener"
    AIR_FRESHENER_SPRAY = "air_freshener_spray"


class Regime(StrEnum):
    """Which EU law governs the finished product besides IFRA."""

    # Regulation (EC) No 1223/2009: Annex II bans, Annex III maxima and allergen labelling.
    COSMETIC = "cosmetic"
    # Not a cosmetic (candles, home and laundry care): CLP classification and REACH Annex XVII
    # entries 28-30 (no CMR 1A/1B above its limit in a mixture supplied to the public).
    MIXTURE = "mixture"


@dataclass(frozen=True)
class ProductProfile:
    product: ProductType
    label: str
    # Concentrate in the finished product, %: the usual trade level when none is given.
    default_dosage_percent: float
    # A dosage above this is refused as a typing error, not checked.
    max_dosage_percent: float
    ifra_category: str
    regime: Regime
    # Leave-on products get the 0.001 % allergen labelling threshold, rinse-off 0.01 %.
    leave_on: bool

    @property
    def cosmetic(self) -> bool:
        return self.regime is Regime.COSMETIC


FINE_FRAGRANCE_CATEGORY = "4"

# Categories as IFRA's "Guidance for the use of IFRA Standards" (2020) assigns product types:
# 2 axillae, 4 fine fragrance, 5A body lotion, 5B face moisturiser, 5C hand cream, 7B leave-on
# hair products, 9 rinse-off body and hair products (soap, shower gel, shampoo), 10A household
# care without spray, 10B household sprays, 12 no skin contact (candles, diffusers).
# Dosages are mid-points of usual trade ranges (EDC 2-5, EDT 5-15, EDP 15-20, extrait 20-30,
# lotions 0.5-1.5, candles 6-10 in wax, diffusers 15-25 in the base).
_PROFILES: dict[ProductType, ProductProfile] = {
    profile.product: profile
    for profile in (
        ProductProfile(ProductType.EDC, "eau de cologne", 4.0, 40, "4", Regime.COSMETIC, True),
        ProductProfile(ProductType.EDT, "eau de toilette", 10.0, 40, "4", Regime.COSMETIC, True),
        ProductProfile(ProductType.EDP, "eau de parfum", 18.0, 40, "4", Regime.COSMETIC, True),
        ProductProfile(
            ProductType.PARFUM, "parfum (extrait)", 25.0, 40, "4", Regime.COSMETIC, True
        ),
        ProductProfile(
            ProductType.BODY_LOTION, "body lotion", 1.0, 10, "5A", Regime.COSMETIC, True
        ),
        ProductProfile(ProductType.FACE_CREAM, "face cream", 0.3, 5, "5B", Regime.COSMETIC, True),
        ProductProfile(ProductType.HAND_CREAM, "hand cream", 0.5, 5, "5C", Regime.COSMETIC, True),
        ProductProfile(ProductType.DEODORANT, "deodorant", 1.0, 10, "2", Regime.COSMETIC, True),
        ProductProfile(ProductType.HAIR_SPRAY, "hair spray", 0.3, 5, "7B", Regime.COSMETIC, True),
        ProductProfile(ProductType.SHAMPOO, "shampoo", 0.8, 5, "9", Regime.COSMETIC, False),
        ProductProfile(ProductType.SHOWER_GEL, "shower gel", 1.0, 5, "9", Regime.COSMETIC, False),
        ProductProfile(ProductType.SOAP, "bar soap", 1.5, 5, "9", Regime.COSMETIC, False),
        ProductProfile(ProductType.CANDLE, "scented candle", 8.0, 15, "12", Regime.MIXTURE, False),
        ProductProfile(
            ProductType.REED_DIFFUSER, "reed diffuser", 20.0, 40, "12", Regime.MIXTURE, False
        ),
        ProductProfile(
            ProductType.LAUNDRY_DETERGENT, "laundry detergent", 0.5, 5, "10A", Regime.MIXTURE, False
        ),
        ProductProfile(
            ProductType.FABRIC_SOFTENER, "fabric softener", 1.0, 5, "10A", Regime.MIXTURE, False
        ),
        ProductProfile(
            ProductType.AIR_FRESHENER_SPRAY,
            "air freshener spray",
            2.0,
            20,
            "10B",
            Regime.MIXTURE,
            False,
        ),
    )
}


def product_profile(product: ProductType) -> ProductProfile:
    return _PROFILES[ProductType(product)]


def all_profiles() -> list[ProductProfile]:
    return list(_PROFILES.values())

import pytest

from fragrance_ai.domain.products import ProductType, product_profile


@pytest.mark.parametrize(
    ("product", "dosage", "category", "leave_on"),
    [
        (ProductType.EDC, 4.0, "4", True),
        (ProductType.EDT, 10.0, "4", True),
        (ProductType.EDP, 18.0, "4", True),
        (ProductType.PARFUM, 25.0, "4", True),
        (ProductType.BODY_LOTION, 1.0, "5A", True),
        (ProductType.CANDLE, 8.0, "12", False),
    ],
)
def test_product_profiles(
    product: ProductType, dosage: float, category: str, leave_on: bool
) -> None:
    profile = product_profile(product)
    assert profile.default_dosage_percent == dosage
    assert profile.ifra_category == category
    assert profile.leave_on is leave_on


def test_api_values_round_trip() -> None:
    assert ProductType("parfum") is ProductType.PARFUM
    assert product_profile(ProductType("body_lotion")).ifra_category == "5A"

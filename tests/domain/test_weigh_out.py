"""The weigh-out sheet: weighing order, grams that add up to the milligram, the solvent."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fragrance_ai.domain.catalogue import Tier
from fragrance_ai.domain.formula import Formula, FormulaLine
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.weigh_out import (
    ETHANOL,
    PRODUCT_BASE,
    WeighOut,
    largest_remainder,
    weigh_out,
)


def _line(name: str, tier: Tier, percent: float) -> FormulaLine:
    return FormulaLine(cas=f"cas-{name}", name=name, tier=tier, percent=percent)


def _formula(
    lines: list[FormulaLine],
    product: ProductType = ProductType.EDP,
    dosage_percent: float = 18,
) -> Formula:
    return Formula(lines=lines, product=product, dosage_percent=dosage_percent)


def _mg(grams: float) -> int:
    return round(grams * 1000)


MIXED = _formula(
    [
        _line("Top small", Tier.TOP, 5),
        _line("Heart big", Tier.HEART, 30),
        _line("Base small", Tier.BASE, 10),
        _line("Top big", Tier.TOP, 15),
        _line("Base big", Tier.BASE, 25),
        _line("Heart small", Tier.HEART, 15),
    ]
)


def test_base_is_weighed_first_and_top_last_the_largest_first_within_a_tier() -> None:
    sheet = weigh_out(MIXED, 100)
    assert [line.name for line in sheet.lines] == [
        "Base big",
        "Base small",
        "Heart big",
        "Heart small",
        "Top big",
        "Top small",
    ]
    assert [line.step for line in sheet.lines] == [1, 2, 3, 4, 5, 6]
    assert sheet.order.startswith("Base materials first, then heart, then top")


def test_grams_running_total_and_solvent_of_a_plain_batch() -> None:
    sheet = weigh_out(MIXED, 200)
    assert sheet.batch_g == 200
    assert sheet.dilution_percent == 18  # the formula's own dosage
    assert sheet.concentrate_g == 36
    assert [line.grams for line in sheet.lines] == [9, 3.6, 10.8, 5.4, 5.4, 1.8]
    assert [line.running_total_g for line in sheet.lines] == [9, 12.6, 23.4, 28.8, 34.2, 36]
    assert [line.percent_of_concentrate for line in sheet.lines] == [25, 10, 30, 15, 15, 5]
    assert sheet.solvent.name == ETHANOL
    assert sheet.solvent.grams == 164
    assert sheet.total_g == 200


def test_a_dilution_of_100_percent_is_the_neat_concentrate() -> None:
    sheet = weigh_out(MIXED, 50, 100)
    assert sheet.concentrate_g == 50
    assert sheet.solvent.grams == 0
    assert sheet.lines[-1].running_total_g == 50


@pytest.mark.parametrize(
    ("product", "solvent"),
    [
        (ProductType.EDC, ETHANOL),
        (ProductType.EDT, ETHANOL),
        (ProductType.EDP, ETHANOL),
        (ProductType.PARFUM, ETHANOL),
        (ProductType.BODY_LOTION, PRODUCT_BASE),
        (ProductType.CANDLE, PRODUCT_BASE),
        (ProductType.REED_DIFFUSER, PRODUCT_BASE),
    ],
)
def test_fine_fragrances_are_made_up_with_alcohol_and_the_rest_with_their_base(
    product: ProductType, solvent: str
) -> None:
    formula = _formula(MIXED.lines, product=product, dosage_percent=5)
    assert weigh_out(formula, 100).solvent.name == solvent


def test_thirds_are_rounded_so_the_lines_add_up_to_the_concentrate() -> None:
    # 10 g of concentrate in three equal parts: 3.333 g each would leave 1 mg unweighed.
    thirds = _formula(
        [
            _line("A", Tier.BASE, 100 / 3),
            _line("B", Tier.HEART, 100 / 3),
            _line("C", Tier.TOP, 100 / 3),
        ]
    )
    sheet = weigh_out(thirds, 10, 100)
    assert sorted(line.grams for line in sheet.lines) == [3.333, 3.333, 3.334]
    # On a tie the remaining milligram goes to the line weighed first.
    assert sheet.lines[0].grams == 3.334
    assert sheet.lines[-1].running_total_g == 10


def test_awkward_percentages_and_a_trace_material() -> None:
    # 0.0137 % of 1.7 g is 0.23 mg: it rounds to nothing or to 1 mg, never below zero.
    awkward = _formula(
        [
            _line("Iso", Tier.BASE, 47.3519),
            _line("Hedi", Tier.HEART, 31.0007),
            _line("Berg", Tier.TOP, 21.6337),
            _line("Trace", Tier.TOP, 0.0137),
        ],
        dosage_percent=17,
    )
    sheet = weigh_out(awkward, 10)
    assert sheet.concentrate_g == 1.7
    assert sum(_mg(line.grams) for line in sheet.lines) == 1700
    assert [_mg(line.grams) for line in sheet.lines] == [805, 527, 368, 0]
    assert sheet.solvent.grams == 8.3


def test_a_formula_summing_a_little_off_100_is_scaled_to_its_own_total() -> None:
    off = _formula([_line("A", Tier.BASE, 50.005), _line("B", Tier.TOP, 50)], dosage_percent=100)
    sheet = weigh_out(off, 100)
    assert sum(_mg(line.grams) for line in sheet.lines) == 100_000
    assert [line.grams for line in sheet.lines] == [50.002, 49.998]


def test_a_line_at_zero_percent_is_not_weighed() -> None:
    with_zero = _formula([_line("A", Tier.BASE, 100), _line("Nothing", Tier.TOP, 0)])
    assert [line.name for line in weigh_out(with_zero, 100).lines] == ["A"]


@pytest.mark.parametrize(
    ("batch_g", "dilution_percent", "message"),
    [
        (0.0004, None, "under the balance's 1 mg"),
        (100, 0, "above 0 and at most 100"),
        (100, 100.5, "above 0 and at most 100"),
    ],
)
def test_a_batch_or_dilution_that_cannot_be_weighed_is_refused(
    batch_g: float, dilution_percent: float | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        weigh_out(MIXED, batch_g, dilution_percent)


def test_largest_remainder_gives_the_spare_units_to_the_largest_remainders() -> None:
    shares = [Fraction(12, 10), Fraction(27, 10), Fraction(31, 10)]  # 1.2 + 2.7 + 3.1 = 7
    assert largest_remainder(shares, 7) == [1, 3, 3]


_percent = st.floats(min_value=0.0001, max_value=100, allow_nan=False, allow_infinity=False)


@st.composite
def _formulas(draw: st.DrawFn) -> Formula:
    percents = draw(st.lists(_percent, min_size=1, max_size=40))
    total = sum(percents)
    tiers = draw(st.lists(st.sampled_from(list(Tier)), min_size=len(percents)))
    # Scaled to about 100 %, as stored formulas are (the float sum is off in its last bits).
    return _formula(
        [
            _line(f"M{index}", tier, min(100, percent * 100 / total))
            for index, (percent, tier) in enumerate(zip(percents, tiers, strict=False))
        ],
        dosage_percent=draw(st.floats(min_value=0.01, max_value=40)),
    )


@settings(max_examples=300, deadline=None)
@given(
    formula=_formulas(),
    batch_g=st.floats(min_value=0.001, max_value=100_000),
    dilution_percent=st.none() | st.floats(min_value=0.001, max_value=100),
)
def test_grams_sum_exactly_to_the_concentrate_and_each_is_within_a_milligram_of_its_share(
    formula: Formula, batch_g: float, dilution_percent: float | None
) -> None:
    sheet: WeighOut = weigh_out(formula, batch_g, dilution_percent)
    concentrate_mg = _mg(sheet.concentrate_g)
    weighed = [_mg(line.grams) for line in sheet.lines]
    # Every figure is a whole number of milligrams.
    for figure in [sheet.concentrate_g, sheet.solvent.grams, *(ln.grams for ln in sheet.lines)]:
        assert figure == _mg(figure) / 1000
    assert sum(weighed) == concentrate_mg
    assert sheet.lines[-1].running_total_g == sheet.concentrate_g
    assert _mg(sheet.solvent.grams) + concentrate_mg == _mg(sheet.total_g) == _mg(sheet.batch_g)
    total_percent = sum(Fraction(line.percent_of_concentrate) for line in sheet.lines)
    for line, mg in zip(sheet.lines, weighed, strict=True):
        exact = concentrate_mg * Fraction(line.percent_of_concentrate) / total_percent
        assert abs(mg - exact) < 1
        assert mg >= 0
    # Weighing order: tiers base, heart, top; within a tier, never a smaller amount first.
    rank = {Tier.BASE: 0, Tier.HEART: 1, Tier.TOP: 2}
    keys = [(rank[line.tier], -line.percent_of_concentrate) for line in sheet.lines]
    assert keys == sorted(keys)

"""The weigh-out sheet: weighing order, grams that add up to the milligram, the solvent."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fragrance_ai.domain.catalogue import Tier
from fragrance_ai.domain.formula import Formula, FormulaLine
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.structures import load_structures
from fragrance_ai.domain.weigh_out import (
    WeighOut,
    largest_remainder,
    weigh_out,
)

ALCOHOL = "perfumer's alcohol (ethanol 96 %, denatured)"


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
    assert sheet.solvent.name == ALCOHOL
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
        (ProductType.EDC, ALCOHOL),
        (ProductType.EDT, ALCOHOL),
        (ProductType.EDP, ALCOHOL),
        (ProductType.PARFUM, ALCOHOL),
        (ProductType.DEODORANT, ALCOHOL),
        (ProductType.BODY_LOTION, "the lotion or cream base (the emulsion)"),
        (ProductType.CANDLE, "candle wax (paraffin or soy)"),
        (ProductType.REED_DIFFUSER, "diffuser base (dipropylene glycol and glycol ethers)"),
    ],
)
def test_the_batch_is_made_up_with_the_product_bases_carrier(
    product: ProductType, solvent: str
) -> None:
    formula = _formula(MIXED.lines, product=product, dosage_percent=5)
    assert weigh_out(formula, 100).solvent.name == solvent
    assert solvent == load_structures().product_base(product).carrier


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


# Real materials: Isobutyl quinoline is weighed at 1 %, Vanillin at 10 %, Skatole at 0.1 %,
# Galaxolide at 50 %; Hedione and Iso E Super neat.
QUINOLINE = FormulaLine(cas="93-19-6", name="Isobutyl quinoline", tier=Tier.BASE, percent=0.2)
VANILLIN = FormulaLine(cas="121-33-5", name="Vanillin", tier=Tier.BASE, percent=5)
SKATOLE = FormulaLine(cas="83-34-1", name="Skatole", tier=Tier.BASE, percent=0.01)
GALAXOLIDE = FormulaLine(cas="1222-05-5", name="Galaxolide", tier=Tier.BASE, percent=10)
HEDIONE = FormulaLine(cas="24851-98-7", name="Hedione", tier=Tier.HEART, percent=44.79)
ISO_E = FormulaLine(cas="54464-57-2", name="Iso E Super", tier=Tier.BASE, percent=40)
POWERFUL = [HEDIONE, QUINOLINE, VANILLIN, SKATOLE, GALAXOLIDE, ISO_E]


def test_a_powerful_material_is_weighed_as_its_stock_dilution_with_its_neat_grams() -> None:
    # 100 g of EDP at 20 %: 20 g of concentrate, 80 g of alcohol.
    sheet = weigh_out(_formula(POWERFUL, dosage_percent=20), 100)
    by_name = {line.name: line for line in sheet.lines}
    quinoline = by_name["Isobutyl quinoline"]
    assert quinoline.weighed_as == "Isobutyl quinoline 1 % in ethanol"
    assert (quinoline.neat_grams, quinoline.grams) == (0.04, 4.0)
    assert (quinoline.working_dilution_percent, quinoline.diluent) == (
        1,
        "ethanol (perfumer's alcohol)",
    )
    assert (by_name["Vanillin"].neat_grams, by_name["Vanillin"].grams) == (1.0, 10.0)
    assert (by_name["Skatole"].neat_grams, by_name["Skatole"].grams) == (0.002, 2.0)
    assert (by_name["Galaxolide"].neat_grams, by_name["Galaxolide"].grams) == (2.0, 4.0)
    hedione = by_name["Hedione"]
    assert (hedione.weighed_as, hedione.diluent, hedione.working_dilution_percent) == (
        "Hedione",
        None,
        100,
    )
    assert hedione.grams == hedione.neat_grams == 8.958
    # The neat materials make the concentrate; the dilutions' alcohol (3.96 + 9 + 1.998 + 2)
    # comes out of the alcohol added last, and everything weighed makes the batch.
    assert sum(_mg(line.neat_grams) for line in sheet.lines) == _mg(sheet.concentrate_g) == 20_000
    assert [(d.name, d.grams) for d in sheet.diluents] == [("ethanol (perfumer's alcohol)", 16.958)]
    assert sheet.solvent.grams == 80 - 16.958
    assert sum(_mg(line.grams) for line in sheet.lines) + _mg(sheet.solvent.grams) == 100_000
    assert sheet.lines[-1].running_total_g == 20 + 16.958
    assert sheet.total_g == 100
    assert sheet.notes == []


def test_a_functional_products_dilutions_are_in_dpg_counted_in_its_base() -> None:
    sheet = weigh_out(_formula(POWERFUL, ProductType.CANDLE, dosage_percent=8), 1000)
    quinoline = next(line for line in sheet.lines if line.name == "Isobutyl quinoline")
    assert quinoline.weighed_as == "Isobutyl quinoline 1 % in DPG"
    [dpg] = sheet.diluents
    assert dpg.name == "dipropylene glycol (DPG)"
    assert sheet.solvent.name == "candle wax (paraffin or soy)"
    assert _mg(sheet.concentrate_g) + _mg(dpg.grams) + _mg(sheet.solvent.grams) == 1_000_000


def test_the_neat_concentrate_has_no_room_for_dilutions_so_every_material_is_weighed_neat() -> None:
    sheet = weigh_out(_formula(POWERFUL), 10, 100)
    assert all(line.grams == line.neat_grams for line in sheet.lines)
    assert all(line.diluent is None for line in sheet.lines)
    assert sheet.diluents == []
    assert sheet.solvent.grams == 0
    [note] = sheet.notes
    assert "Isobutyl quinoline" in note
    assert "Hedione" not in note


def test_where_the_dilutions_do_not_fit_the_largest_amounts_are_weighed_neat_first() -> None:
    # 10 g at 40 %: 4 g of concentrate and 6 g of alcohol, and the dilutions bring about
    # 3.4 g of it (vanillin 1.8 g, the quinoline 0.792 g, Galaxolide 0.4 g, skatole): they fit.
    fits = weigh_out(_formula(POWERFUL, dosage_percent=40), 10)
    assert fits.notes == []
    assert all(line.diluent for line in fits.lines if line.working_dilution_percent < 100)
    # At 60 %: 6 g of concentrate and 4 g of alcohol. Galaxolide 0.6 g (0.6 g of alcohol),
    # vanillin 0.3 g (2.7 g), the quinoline 12 mg (1.188 g), skatole 1 mg (0.999 g): 5.487 g
    # do not fit. Galaxolide, with the most material, goes neat first (4.887 g left), then
    # vanillin (2.187 g): the rest fit.
    tight = weigh_out(_formula(POWERFUL, dosage_percent=40), 10, 60)
    by_name = {line.name: line for line in tight.lines}
    assert by_name["Galaxolide"].diluent is None
    assert by_name["Vanillin"].diluent is None
    assert by_name["Isobutyl quinoline"].grams == 1.2
    assert by_name["Skatole"].grams == 1.0
    [note] = tight.notes
    assert note.startswith("Weighed neat, not as their stock dilutions: Galaxolide, Vanillin.")
    assert sum(_mg(line.grams) for line in tight.lines) + _mg(tight.solvent.grams) == 10_000


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


@settings(max_examples=200, deadline=None)
@given(
    percents=st.lists(_percent, min_size=len(POWERFUL), max_size=len(POWERFUL)),
    product=st.sampled_from([ProductType.EDP, ProductType.SHAMPOO, ProductType.CANDLE]),
    batch_g=st.floats(min_value=0.001, max_value=100_000),
    dilution_percent=st.none() | st.floats(min_value=0.001, max_value=100),
)
def test_with_stock_dilutions_everything_weighed_still_adds_up_to_the_batch_exactly(
    percents: list[float],
    product: ProductType,
    batch_g: float,
    dilution_percent: float | None,
) -> None:
    total = sum(percents)
    formula = _formula(
        [
            line.model_copy(update={"percent": percent * 100 / total})
            for line, percent in zip(POWERFUL, percents, strict=True)
        ],
        product=product,
    )
    sheet = weigh_out(formula, batch_g, dilution_percent)
    figures = [
        sheet.concentrate_g,
        sheet.solvent.grams,
        *(d.grams for d in sheet.diluents),
        *(line.grams for line in sheet.lines),
        *(line.neat_grams for line in sheet.lines),
    ]
    for figure in figures:
        assert figure == _mg(figure) / 1000
        assert figure >= 0
    batch_mg = _mg(sheet.batch_g)
    assert sum(_mg(line.neat_grams) for line in sheet.lines) == _mg(sheet.concentrate_g)
    assert sum(_mg(line.grams) for line in sheet.lines) + _mg(sheet.solvent.grams) == batch_mg
    brought = sum(_mg(d.grams) for d in sheet.diluents)
    assert _mg(sheet.concentrate_g) + brought + _mg(sheet.solvent.grams) == batch_mg
    assert _mg(sheet.lines[-1].running_total_g) == _mg(sheet.concentrate_g) + brought
    for line in sheet.lines:
        # The dilution holds exactly the neat grams (50, 10, 1 and 0.1 % are whole ratios).
        assert _mg(line.grams) * line.working_dilution_percent == pytest.approx(
            _mg(line.neat_grams) * 100
        )

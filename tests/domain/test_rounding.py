"""`round6` must be `round(value, 6)` to the last bit: report levels are compared as JSON."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from fragrance_ai.domain.rounding import round6


def _same(value: float) -> None:
    # repr tells -0.0 from 0.0 and compares nan with itself.
    assert repr(round6(value)) == repr(round(value, 6)), value


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_rounds_as_the_built_in(value: float) -> None:
    _same(value)


@given(st.floats(min_value=-200, max_value=200))
def test_levels_round_as_the_built_in(value: float) -> None:
    _same(value)


@given(st.integers(min_value=-(10**9), max_value=10**9), st.integers(min_value=-4, max_value=4))
def test_halves_and_exact_millionths_round_as_the_built_in(millionths: int, ulps: int) -> None:
    # Where the fast path must hand over to the built-in: next to n.5 millionths, and at
    # whole millionths, a few units in the last place either side.
    for start in ((millionths + 0.5) / 1e6, millionths / 1e6):
        value = start
        for _ in range(abs(ulps)):
            value = math.nextafter(value, math.copysign(math.inf, ulps))
        _same(value)


def test_zeros_and_the_edges_round_as_the_built_in() -> None:
    for value in (0.0, -0.0, 4e-7, -4e-7, 5e-7, -5e-7, 1e-300, 2.0**40 / 1e6, 1e300, math.inf):
        _same(value)

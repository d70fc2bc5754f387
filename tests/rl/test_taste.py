"""What the workbench says a perfumer's choices taught: features in words, and how many more
choices until one reading is confident, extrapolated from the rate so far."""

from __future__ import annotations

from fragrance_ai.rl.features import feature_words
from fragrance_ai.training.taste import _more_choices


def test_features_are_said_in_a_perfumers_words() -> None:
    assert feature_words("share:family:woody") == "woody (family)"
    assert feature_words("share:descriptor:sweet") == "sweet"
    assert feature_words("pyramid:base") == "base notes"
    assert feature_words("cost_per_kg") == "cost per kg"


def test_more_choices_extrapolate_the_entropy_fallen_per_choice_so_far() -> None:
    # 12 bits before any choice, 8 after 10 choices: 0.4 bits a choice, 7 bits to go to 1.
    assert _more_choices({"prior_entropy_bits": 12.0, "entropy_bits": 8.0}, 10) == 18
    # No narrowing yet, or nothing to go by: no estimate rather than a made-up one.
    assert _more_choices({"prior_entropy_bits": 12.0, "entropy_bits": 12.5}, 10) is None
    assert _more_choices({"entropy_bits": 8.0}, 10) is None
    assert _more_choices({"prior_entropy_bits": 12.0, "entropy_bits": 8.0}, 0) is None

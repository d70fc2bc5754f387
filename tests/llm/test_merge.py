"""The merge rule: the text's literal content always wins; the model fills what the text
left empty; a model cannot make noise into a brief or add a required material."""

from __future__ import annotations

import numpy as np
import pytest

from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.llm.merge import merge_reading
from fragrance_ai.llm.reading import ModelReading


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def parser(catalogue: Catalogue) -> DeterministicBriefParser:
    return DeterministicBriefParser(catalogue)


def test_what_the_text_names_wins_and_the_disagreement_is_recorded(
    parser: DeterministicBriefParser, catalogue: Catalogue
) -> None:
    text = "a woody vetiver eau de parfum, 40 EUR/kg, no patchouli"
    literal = parser.parse(text)
    reading = ModelReading(families=["floral"], notes=["patchouli"], intensity="strong")
    outcome = merge_reading(text, literal, reading, catalogue)
    assert outcome.brief.families == literal.families == ["woody"]
    assert outcome.brief.budget_per_kg_eur == 40
    assert outcome.brief.avoid == ["Patchouli oil"]
    assert "Patchouli oil" not in outcome.brief.preferred_notes
    assert any(c.startswith("families") for c in outcome.conflicts)
    assert any("forbids" in reason for reason in outcome.ignored)


def test_the_model_fills_what_the_text_left_empty(
    parser: DeterministicBriefParser, catalogue: Catalogue
) -> None:
    text = "something for a long walk in the hills"
    # The parser gives this text no direction (issue 25: it asks rather than defaulting);
    # the merge rule is tested on it as if it had found one but no family to file it under.
    literal = parser.parse(text).model_copy(update={"understood": True})
    assert literal.families == []
    assert "intensity" in literal.defaults_used
    assert "hills" in literal.unread_words
    reading = ModelReading(
        families=["Green", "aromatic", "nonsense"],
        moods=["calm"],
        seasons=["spring"],
        intensity="light",
        notes=["lavender", "hills"],
    )
    outcome = merge_reading(text, literal, reading, catalogue)
    brief = outcome.brief
    assert brief.families == ["green", "aromatic"]
    assert brief.moods == ["calm"]
    assert brief.seasons == ["spring"]
    assert brief.intensity.value == "light"
    assert "families" not in brief.defaults_used
    assert "intensity" not in brief.defaults_used
    # A note the text does not name is a soft preference, never a required material.
    assert brief.notes == []
    assert brief.preferred_notes == ["Lavender oil"]
    # "hills" is in the text but is no note we know; kept as unmatched, not dropped, and so
    # no longer an unread word.
    assert brief.unmatched_notes == ["hills"]
    assert "hills" not in brief.unread_words
    assert any("nonsense" in reason for reason in outcome.ignored)


def test_a_model_cannot_make_noise_into_a_brief(
    parser: DeterministicBriefParser, catalogue: Catalogue
) -> None:
    text = "aaaaa ???? 12345"
    literal = parser.parse(text)
    reading = ModelReading(families=["citrus"], moods=["playful"])
    outcome = merge_reading(text, literal, reading, catalogue)
    assert outcome.brief.understood is False
    assert outcome.brief.families == []


def test_the_literal_reading_of_evocations_survives_the_merge(
    parser: DeterministicBriefParser, catalogue: Catalogue
) -> None:
    text = "a campfire under the stars, like Shalimar, with a durian twist"
    literal = parser.parse(text)
    assert literal.evocations == ["campfire", "shalimar"]
    reading = ModelReading(families=["floral"], moods=["mysterious"], notes=["lavender"])
    brief = merge_reading(text, literal, reading, catalogue).brief
    assert brief.evocations == ["campfire", "shalimar"]
    assert brief.structure == "amber"
    assert brief.accepted_clashes == ["smoky_tar", "animalic"]
    assert "durian" in brief.unread_words
    # The model's material comes after the evocations' materials, not instead of them.
    assert brief.preferred_notes[: len(literal.preferred_notes)] == literal.preferred_notes
    assert brief.preferred_notes[-1] == "Lavender oil"


def test_invented_notes_that_are_neither_in_the_catalogue_nor_the_text_are_dropped(
    parser: DeterministicBriefParser, catalogue: Catalogue
) -> None:
    text = "a citrus cologne"
    outcome = merge_reading(
        text, parser.parse(text), ModelReading(notes=["unicorn tears"]), catalogue
    )
    assert outcome.brief.unmatched_notes == []
    assert outcome.ignored == ["note 'unicorn tears': neither in the catalogue nor in the text"]


def test_fields_a_model_has_not_earned_are_suggested_not_applied(
    parser: DeterministicBriefParser, catalogue: Catalogue
) -> None:
    text = "something for a long walk in the hills"
    literal = parser.parse(text)
    reading = ModelReading(moods=["calm"], seasons=["spring"], intensity="light")
    outcome = merge_reading(text, literal, reading, catalogue, fills=frozenset({"seasons"}))
    assert outcome.brief.seasons == ["spring"]
    assert outcome.brief.moods == []
    assert outcome.brief.intensity == literal.intensity
    assert outcome.suggested == {"moods": ["calm"], "intensity": "light"}


def test_unearned_preferred_notes_are_suggestions_and_never_reach_the_design(
    parser: DeterministicBriefParser, catalogue: Catalogue
) -> None:
    """Issue 26: SmolLM2 read "warm amber vanilla evening perfume with benzoin" with preferred
    notes bergamot and neroli, its prompt's worked example repeated; the optimiser's target
    (optimize/space.py reads brief.preferred_notes) was pulled towards citrus. A model's notes
    reach the brief only where `llm.model_fills` says the model has earned them."""
    from fragrance_ai.domain.brief import CreativeBrief
    from fragrance_ai.optimize.space import build_space

    text = "warm amber vanilla evening perfume with benzoin"
    literal = parser.parse(text)
    parroted = ModelReading(notes=["bergamot", "neroli"])
    unearned = merge_reading(
        text, literal, parroted, catalogue, fills=frozenset({"families", "moods"})
    )
    # "warm" is an evocation: its materials are the literal reading's soft preferences.
    assert unearned.brief.preferred_notes == literal.preferred_notes
    assert "Bergamot oil" not in literal.preferred_notes
    assert unearned.suggested["preferred_notes"] == ["Bergamot oil", "Neroli oil"]
    earned = merge_reading(text, literal, parroted, catalogue, fills=frozenset({"preferred_notes"}))
    assert earned.brief.preferred_notes == [
        *literal.preferred_notes,
        "Bergamot oil",
        "Neroli oil",
    ]

    def target(brief: CreativeBrief) -> np.ndarray:
        return build_space(catalogue, brief).target

    # The search aims where the text alone points; with the notes earned, it moves.
    assert np.array_equal(target(unearned.brief), target(literal))
    assert not np.allclose(target(earned.brief), target(literal))

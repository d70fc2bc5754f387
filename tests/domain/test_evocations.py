"""The evocation library: every entry is checked against the catalogue and the vocabularies,
its phrases are read literally in English and Korean, and applying a match directs a brief."""

from __future__ import annotations

import re

import pytest

from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.evocations import (
    EvocationError,
    apply_evocations,
    load_evocations,
    match_literal,
    parse_evocations,
)
from fragrance_ai.domain.families import FAMILY_WORDS
from fragrance_ai.domain.material_knowledge import Clash
from fragrance_ai.domain.structures import load_structures

ENTRY = """
version: 1
evocations:
- id: petrichor
  kind: scene
  phrases: [petrichor]
  phrases_ko: [비 온 뒤]
  description: Rain on dry earth.
  families: [green]
  notes: [Vetiver oil]
  accepts: [smoky_tar]
  structure: chypre
  source: "practice: geosmin"
"""


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def test_the_library_is_large_sourced_and_in_every_kind() -> None:
    evocations = load_evocations()
    assert len(evocations) >= 80
    assert {e.kind for e in evocations} == {"scene", "texture", "reference", "mood", "structure"}
    assert sum(e.kind == "reference" for e in evocations) >= 15
    assert sum(bool(e.phrases_ko) for e in evocations) >= 80
    for evocation in evocations:
        assert evocation.source.strip(), evocation.id
        assert evocation.description.endswith("."), evocation.id
    references = [e for e in evocations if e.kind == "reference"]
    assert all(e.source.startswith("published:") for e in references)


def test_every_entry_names_catalogue_materials_canonical_families_and_known_classes(
    catalogue: Catalogue,
) -> None:
    names = {ingredient.name for ingredient in catalogue}
    clashes = {clash.value for clash in Clash}
    structures = {structure.id for structure in load_structures().structures}
    for evocation in load_evocations():
        assert set(evocation.notes) <= names, evocation.id
        assert set(evocation.families) <= set(FAMILY_WORDS), evocation.id
        assert set(evocation.accepts) <= clashes, evocation.id
        assert evocation.structure is None or evocation.structure in structures, evocation.id
        assert {n for group in evocation.signature for n in group} <= names, evocation.id
    # Every famous perfume says what it cannot be without.
    assert all(e.signature for e in load_evocations() if e.kind == "reference")


@pytest.mark.parametrize(
    ("field", "bad", "message"),
    [
        ("notes: [Vetiver oil]", "notes: [Vetiver]", "entry 1 (petrichor): notes: 'Vetiver'"),
        ("families: [green]", "families: [earthy]", "entry 1 (petrichor): families: 'earthy'"),
        ("accepts: [smoky_tar]", "accepts: [smoky]", "entry 1 (petrichor): accepts: 'smoky'"),
        ("structure: chypre", "structure: moss", "entry 1 (petrichor): structure: 'moss'"),
        ("kind: scene", "kind: place", "entry 1 (petrichor): kind: 'place'"),
        ("phrases_ko: [비 온 뒤]", "phrases_ko: [after]", "phrases_ko: 'after'"),
        ('source: "practice: geosmin"', "source: ''", "entry 1 (petrichor): source"),
        (
            "accepts: [smoky_tar]",
            "accepts: [smoky_tar]\n  signature: [[Vetiver]]",
            "entry 1 (petrichor): signature: not in the catalogue: Vetiver",
        ),
    ],
)
def test_a_loader_error_names_the_entry_and_the_field(
    catalogue: Catalogue, field: str, bad: str, message: str
) -> None:
    assert parse_evocations(ENTRY, catalogue)[0].notes == ("Vetiver oil",)
    with pytest.raises(EvocationError, match=re.escape(message)):
        parse_evocations(ENTRY.replace(field, bad), catalogue)


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("the smell of petrichor", ["petrichor"]),
        ("a campfire under the stars", ["campfire"]),
        ("something like Shalimar but lighter", ["shalimar"]),
        ("Terre d'Hermès meets Chanel Nº5", ["terre_d_hermes", "chanel_no5"]),
        (
            "Chanel No 5 with a powdery, creamy skin scent",
            ["chanel_no5", "powdery", "creamy", "skin"],
        ),
        ("캠프파이어 옆의 포근한 살냄새", ["campfire", "cosy", "skin"]),
        ("비 온 뒤 숲속을 걷는 느낌", ["forest_after_rain"]),
        ("할머니 댁의 따뜻한 첫사랑", ["grandmothers_house", "warm", "first_love"]),
        ("a crisp, stable tonality", []),
    ],
)
def test_phrases_are_read_literally_in_english_and_korean(text: str, ids: list[str]) -> None:
    matches = match_literal(text, load_evocations())
    assert [m.evocation.id for m in matches] == ids
    assert all(m.how == "literal" and m.score == 1.0 for m in matches)


def test_a_longer_phrase_wins_over_the_words_inside_it() -> None:
    ids = [m.evocation.id for m in match_literal("a forest after rain", load_evocations())]
    assert ids == ["forest_after_rain"]


def test_applying_an_evocation_directs_the_brief(catalogue: Catalogue) -> None:
    brief = CreativeBrief(
        families=["woody"],
        avoid=["leather"],
        understood=False,
        unread_words=["campfire", "stars"],
    )
    campfire = match_literal("a campfire", load_evocations())
    applied = apply_evocations(brief, campfire, catalogue=catalogue)
    assert applied.understood
    assert applied.evocations == ["campfire"]
    # The brief's own family first; an avoided family never comes in.
    assert applied.families == ["woody", "amber"]
    assert "Birch tar oil rectified" not in applied.preferred_notes  # filed under leather
    assert "Cedarwood oil Virginia" in applied.preferred_notes
    assert applied.notes == []  # soft, never required
    assert applied.accepted_clashes == ["smoky_tar"]
    assert applied.unread_words == ["stars"]


def test_evocation_families_replace_defaulted_ones_and_a_named_structure_stays(
    catalogue: Catalogue,
) -> None:
    brief = CreativeBrief(
        families=["fresh", "citrus", "woody"], defaults_used=["families"], structure="cologne"
    )
    applied = apply_evocations(
        brief, match_literal("like Shalimar", load_evocations()), catalogue=catalogue
    )
    assert applied.families == ["amber", "gourmand", "citrus"]
    assert "families" not in applied.defaults_used
    assert applied.structure == "cologne"
    fresh = apply_evocations(
        CreativeBrief(), match_literal("like Shalimar", load_evocations()), catalogue=catalogue
    )
    assert fresh.structure == "amber"
    assert fresh.accepted_clashes == ["animalic"]

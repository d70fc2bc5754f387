"""Classic structures and product bases: read from the data, checked against the catalogue,
and chosen for a brief as a perfumer would."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.catalogue import Tier
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.material_knowledge import Base
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.structures import StructureError, load_structures, parse_structures

CATALOGUE = load_catalogue()
BOOK = load_structures()


def _text() -> str:
    path = resources.files("fragrance_ai").joinpath("data", "perfumery", "structures.yaml")
    return path.read_text(encoding="utf-8")


def test_every_structure_is_sourced_shaped_and_names_catalogue_materials() -> None:
    names = {m.name for m in CATALOGUE}
    assert len(BOOK.structures) >= 11
    for structure in BOOK.structures:
        assert sum(structure.pyramid.values()) == pytest.approx(100)
        low, high = structure.base_percent
        assert low <= structure.pyramid[Tier.BASE] <= high, structure.id
        assert all(name in names for group in structure.keys for name in group)
        assert len(structure.source) > 50
    assert set(BOOK.products) == set(Base)


def test_a_key_material_the_catalogue_lacks_stops_the_load() -> None:
    document = yaml.safe_load(_text())
    document["structures"][0]["keys"][0].append("Unobtainium")
    with pytest.raises(StructureError, match="Unobtainium"):
        parse_structures(yaml.safe_dump(document), CATALOGUE)


def test_the_structure_follows_the_brief() -> None:
    assert BOOK.for_brief(CreativeBrief(families=["citrus"], product=ProductType.EDC)).id == (
        "cologne"
    )
    assert BOOK.for_brief(CreativeBrief(families=["oud", "floral"])).id == "oud"
    assert BOOK.for_brief(CreativeBrief(families=["floral"], notes=["Rose oil"])).id == "rose"
    # A reference names its structure outright ...
    mitsouko = CreativeBrief(families=["amber"], evocations=["chypre"], structure="chypre")
    assert BOOK.for_brief(mitsouko).id == "chypre"
    # ... a scene only suggests one: a rose-oud stays an oud with a rose in it.
    rose_oud = CreativeBrief(
        families=["oud", "woody", "floral"],
        notes=["Rose oil"],
        evocations=["rose_garden"],
        structure="rose",
    )
    assert BOOK.for_brief(rose_oud).id == "oud"


def test_a_note_asked_for_as_a_touch_does_not_choose_the_structure() -> None:
    hero = CreativeBrief(families=["musky", "floral"], notes=["Jasmine absolute"])
    assert BOOK.for_brief(hero).id == "white_floral"
    touch = hero.model_copy(update={"accent_notes": ["Jasmine absolute"]})
    assert BOOK.for_brief(touch).id == "musk_skin"


def test_a_named_family_requires_its_signature_material() -> None:
    brief = CreativeBrief(families=["floral", "oud"])
    structure = BOOK.for_brief(brief)
    groups = BOOK.required_keys(brief, structure)
    assert any("Agarwood oil" in group for group in groups)
    plain = CreativeBrief(families=["floral"])
    assert not any(
        "Agarwood oil" in group for group in BOOK.required_keys(plain, BOOK.for_brief(plain))
    )


def test_a_candle_base_keeps_absolutes_out_and_wax_as_its_carrier() -> None:
    candle = BOOK.product_base(ProductType.CANDLE)
    assert candle.cost_ceiling_eur_per_kg is not None
    assert candle.max_material_price_eur_per_kg is not None
    jasmine = CATALOGUE.find("Jasmine absolute")
    assert jasmine is not None
    assert candle.max_material_price_eur_per_kg < jasmine.price_per_kg_eur
    assert "wax" in candle.carrier

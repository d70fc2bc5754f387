"""The perfumery knowledge: every catalogue material has it, with a source; a missing or
malformed row stops the load naming the material; impact grows with dose and saturates."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.material_knowledge import (
    CARRY_PERCENT,
    Base,
    MaterialKnowledgeError,
    Strength,
)
from fragrance_ai.domain.material_knowledge_file import (
    KNOWLEDGE_FILES,
    load_knowledge,
    parse_knowledge,
)
from fragrance_ai.domain.products import ProductType

CATALOGUE = load_catalogue()


def _texts() -> dict[str, str]:
    folder = resources.files("fragrance_ai").joinpath("data", "perfumery")
    return {name: folder.joinpath(name).read_text(encoding="utf-8") for name in KNOWLEDGE_FILES}


def test_every_catalogue_material_has_knowledge_with_a_source() -> None:
    book = load_knowledge()
    assert len(book) == len(CATALOGUE)
    for material in CATALOGUE:
        known = book.of(material.cas)
        assert known.name == material.name
        assert len(known.source) >= 20, material.name
        assert known.roles, material.name
        assert 0 < known.substantivity_hours <= 400
        for risk in known.stability:
            assert risk.note, material.name
            assert len(risk.source) >= 20, material.name
        if known.odour_threshold is not None:
            assert len(known.odour_threshold.source) >= 20, material.name


def test_a_material_without_a_row_stops_the_load_naming_it() -> None:
    texts = _texts()
    document = yaml.safe_load(texts["aroma_chemicals.yaml"])
    dropped = document["materials"].pop(0)
    texts["aroma_chemicals.yaml"] = yaml.safe_dump(document)
    with pytest.raises(MaterialKnowledgeError, match=dropped["name"]):
        parse_knowledge(texts, CATALOGUE)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("source", None, "'source' is required"),
        ("source", "a guess", "neither a key nor a citation"),
        ("strength", "loud", "strength 'loud' is not one of"),
        ("clashes", ["garlicky"], "clashes 'garlicky'"),
        ("dilution", 5, "dilution must be one of"),
        ("roles", [], "at least one role"),
        ("uncertain", None, "'uncertain' must be true or false"),
    ],
)
def test_a_malformed_row_is_refused_naming_the_material_and_field(
    field: str, value: object, message: str
) -> None:
    texts = _texts()
    document = yaml.safe_load(texts["naturals.yaml"])
    row = document["materials"][0]
    row[field] = value
    texts["naturals.yaml"] = yaml.safe_dump(document)
    with pytest.raises(MaterialKnowledgeError, match=message) as error:
        parse_knowledge(texts, CATALOGUE)
    assert row["name"] in str(error.value)


def test_impact_grows_with_the_dose_and_saturates_at_the_carrying_dose_scale() -> None:
    quinoline = load_knowledge().of(CATALOGUE.find("Isobutyl quinoline").cas)  # type: ignore[union-attr]
    hedione = load_knowledge().of(CATALOGUE.find("Hedione").cas)  # type: ignore[union-attr]
    assert quinoline.carry_percent < hedione.carry_percent
    assert quinoline.impact(0) == 0
    assert quinoline.impact(quinoline.carry_percent) == pytest.approx(1 - 1 / 2.718281828, abs=1e-6)
    # 1 % of a very strong material speaks louder than 1 % of a weak one ...
    assert quinoline.impact(1.0) > hedione.impact(1.0)
    # ... and twice "enough" is far from twice the character.
    assert quinoline.impact(2.0) < 1.01 * quinoline.impact(1.0) + 0.01
    assert list(CARRY_PERCENT.values()) == sorted(CARRY_PERCENT.values(), reverse=True)
    assert list(CARRY_PERCENT) == list(Strength)


def test_risks_are_by_product_base() -> None:
    vanillin = load_knowledge().of(CATALOGUE.find("Vanillin").cas)  # type: ignore[union-attr]
    assert any(Base.EMULSION in risk.bases for risk in vanillin.stability)
    assert vanillin.risks_in(ProductType.BODY_LOTION)
    assert not vanillin.risks_in(ProductType.EDP)

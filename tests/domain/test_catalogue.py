from pathlib import Path

import pytest

from fragrance_ai.domain.catalogue import (
    Catalogue,
    CatalogueError,
    Tier,
    is_valid_cas,
    load_catalogue,
    load_catalogue_from,
    parse_catalogue,
)

REQUIRED_FAMILIES = {
    "citrus", "floral", "woody", "amber", "fresh", "green", "aquatic", "fruity", "spicy",
    "gourmand", "aromatic", "chypre", "musky", "leather", "powdery",
}  # fmt: skip

GOOD_ROW = """
  - name: Coumarin
    synonyms: [tonka]
    cas: 91-64-5
    tier: base
    families: [gourmand]
    descriptors: [hay]
    use: [0.5, 5]
    price_per_kg_eur: 15
    price_source: estimate
    natural: false
"""


@pytest.mark.parametrize("cas", ["7732-18-5", "50-00-0", "91-64-5", "8007-75-8", "198404-98-7"])
def test_valid_cas_numbers_pass(cas: str) -> None:
    assert is_valid_cas(cas)


@pytest.mark.parametrize(
    "cas", ["7732-18-4", "91-64-6", "8016-63-9", "1-23-4", "12345678-12-1", "abc", "", "91645"]
)
def test_invalid_cas_numbers_fail(cas: str) -> None:
    assert not is_valid_cas(cas)


def test_packaged_catalogue_is_large_and_every_cas_checks_out() -> None:
    catalogue = load_catalogue()
    assert len(catalogue) >= 45
    assert all(is_valid_cas(ingredient.cas) for ingredient in catalogue)


def test_packaged_catalogue_covers_every_tier_and_family() -> None:
    catalogue = load_catalogue()
    assert {ingredient.tier for ingredient in catalogue} == set(Tier)
    assert catalogue.families() >= REQUIRED_FAMILIES
    for tier in Tier:
        assert len(catalogue.filter(tier=tier)) >= 10


def test_every_ifra_figure_has_a_source_and_a_sane_value() -> None:
    for ingredient in load_catalogue():
        assert ingredient.typical_use_min_percent <= ingredient.typical_use_max_percent
        assert ingredient.price_per_kg_eur > 0
        assert ingredient.price_source
        for limit in ingredient.ifra:
            assert limit.source
            assert limit.prohibited or 0 < limit.allowed_percent <= 100


def test_known_facts_are_recorded() -> None:
    catalogue = load_catalogue()
    lilial = catalogue.by_cas("80-54-6")
    assert lilial.is_prohibited_in("4")
    oakmoss = catalogue.find("oakmoss")
    assert oakmoss is not None
    limit = oakmoss.limit_for("4")
    assert limit is not None
    assert limit.allowed_percent == pytest.approx(0.1)


def test_find_is_case_insensitive_and_knows_synonyms_and_cas() -> None:
    catalogue = load_catalogue()
    hedione = catalogue.find("Methyl Dihydrojasmonate")
    assert hedione is not None
    assert hedione.name == "Hedione"
    assert catalogue.find("  HEDIONE ") is hedione
    assert catalogue.find("24851-98-7") is hedione
    assert catalogue.find("unobtainium") is None


def test_filter_by_tier_family_and_text() -> None:
    catalogue = load_catalogue()
    citrus_tops = catalogue.filter(tier=Tier.TOP, family="citrus")
    assert citrus_tops
    assert all(i.tier is Tier.TOP and "citrus" in i.families for i in citrus_tops)
    assert [i.name for i in catalogue.filter(text="pencil shavings")] == ["Cedarwood oil Virginia"]


def test_by_cas_raises_for_unknown_material() -> None:
    with pytest.raises(KeyError):
        load_catalogue().by_cas("50-00-0")


def test_bad_check_digit_names_row_and_field() -> None:
    text = (
        "materials:" + GOOD_ROW + GOOD_ROW.replace("Coumarin", "Fake").replace("91-64-5", "91-64-6")
    )
    with pytest.raises(CatalogueError) as error:
        parse_catalogue(text, source="inline")
    message = str(error.value)
    assert "row 2" in message
    assert "'Fake'" in message
    assert "'cas'" in message


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("tier: base", "tier: bottom", "'tier'"),
        ("use: [0.5, 5]", "use: [5, 0.5]", "'use'"),
        ("price_per_kg_eur: 15", "price_per_kg_eur: -1", "'price_per_kg_eur'"),
        ("natural: false", "natural: maybe", "'natural'"),
        ("families: [gourmand]", "families: []", "'families'"),
    ],
)
def test_bad_fields_are_named(old: str, new: str, field: str) -> None:
    with pytest.raises(CatalogueError, match=field):
        parse_catalogue("materials:" + GOOD_ROW.replace(old, new))


def test_ifra_figure_without_source_is_rejected() -> None:
    row = GOOD_ROW + '    ifra:\n      - {category: "4", max_percent_in_finished_product: 1.6}\n'
    with pytest.raises(CatalogueError, match=r"ifra\[1\]\.source"):
        parse_catalogue("materials:" + row)


def test_duplicate_cas_is_rejected() -> None:
    with pytest.raises(CatalogueError, match="duplicate CAS 91-64-5"):
        parse_catalogue("materials:" + GOOD_ROW + GOOD_ROW.replace("Coumarin", "Again"))


def test_loader_reads_a_file_path(tmp_path: Path) -> None:
    path = tmp_path / "mini.yaml"
    path.write_text("materials:" + GOOD_ROW, encoding="utf-8")
    catalogue = load_catalogue_from(path)
    assert isinstance(catalogue, Catalogue)
    assert len(catalogue) == 1
    assert catalogue.find("tonka") is not None


def test_load_catalogue_is_cached() -> None:
    assert load_catalogue() is load_catalogue()

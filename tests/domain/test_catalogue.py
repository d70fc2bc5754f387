import re
from pathlib import Path

import pytest
import yaml

from fragrance_ai.domain.catalogue import (
    Catalogue,
    CatalogueError,
    Tier,
    Volatility,
    is_valid_cas,
)
from fragrance_ai.domain.catalogue_file import load_catalogue, load_catalogue_from, parse_catalogue
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.rules import rule_book

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
    assert len(catalogue) >= 150
    assert all(is_valid_cas(ingredient.cas) for ingredient in catalogue)
    assert all(is_valid_cas(cas) for s in catalogue.substances.values() for cas in s.cas)
    assert sum(ingredient.natural for ingredient in catalogue) >= 50


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
            assert limit.prohibited or limit.unreadable or 0 < limit.allowed_percent <= 100
        for constituent in ingredient.constituents:
            assert constituent.source
            assert 0 < constituent.percent <= 100
    for substance in load_catalogue().substances.values():
        # Every substance carries some rule: IFRA, an EU allergen entry, an EU annex entry (an
        # Annex II ban or Annex III limit of the CosIng export, or its printed condition), CLP.
        assert (
            substance.ifra_standard is not None
            or substance.allergen is not None
            or substance.eu_limits
            or substance.conditions
            or substance.cmr is not None
        )
        for limit in substance.limits:
            # Source keys are expanded to the citation text at load time.
            assert len(limit.source) > 40
        if substance.allergen is not None:
            assert len(substance.allergen.source) > 40


def test_known_facts_are_recorded() -> None:
    catalogue = load_catalogue()
    lilial = catalogue.by_cas("80-54-6")
    # IFRA prohibits Lilial where it may be swallowed (lips, oral care) and restricts it
    # elsewhere; EU cosmetics law bans it outright, and that ban binds in an EDP.
    assert lilial.is_prohibited_in("1")
    assert lilial.is_prohibited_in("6")
    assert not lilial.is_prohibited_in("4")
    binding = rule_book(catalogue, ProductType.EDP).rules["butylphenyl_methylpropional"].binding
    assert binding is not None
    assert binding.prohibited
    assert "1223/2009" in binding.rule
    oakmoss = catalogue.find("oakmoss")
    assert oakmoss is not None
    limit = oakmoss.limit_for("4")
    assert limit is not None
    assert limit.allowed_percent == pytest.approx(0.1)


def test_naturals_carry_their_regulated_constituents() -> None:
    catalogue = load_catalogue()
    bergamot = catalogue.find("bergamot")
    assert bergamot is not None
    fractions = {substance.id: fraction for substance, fraction in bergamot.contributions}
    # Itself (the expressed-oil phototoxicity standard), then what it contains.
    assert fractions["bergamot_oil_expressed"] == 1.0
    assert fractions["bergapten"] == pytest.approx(0.0035)
    assert fractions["linalool"] > 0
    assert fractions["limonene"] > 0
    lavender = catalogue.find("lavender")
    assert lavender is not None
    assert {c.substance.id for c in lavender.constituents} >= {"linalool", "limonene", "coumarin"}
    rose = catalogue.find("rose oil")
    assert rose is not None
    assert {c.substance.id for c in rose.constituents} >= {"methyl_eugenol", "geraniol", "eugenol"}


def test_oakmoss_and_treemoss_share_one_ifra_substance() -> None:
    catalogue = load_catalogue()
    shared = catalogue.substances["oakmoss_treemoss_extracts"]
    for name in ("Oakmoss absolute", "Treemoss absolute"):
        material = catalogue.find(name)
        assert material is not None
        assert shared in [substance for substance, _ in material.contributions]


def test_every_material_has_a_volatility() -> None:
    assert {ingredient.volatility for ingredient in load_catalogue()} == set(Volatility)


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
        ("tier: base", "tier: base\n    volatility: sluggish", "'volatility'"),
    ],
)
def test_bad_fields_are_named(old: str, new: str, field: str) -> None:
    with pytest.raises(CatalogueError, match=field):
        parse_catalogue("materials:" + GOOD_ROW.replace(old, new))


def test_ifra_figure_without_source_is_rejected() -> None:
    row = GOOD_ROW + '    ifra:\n      - {category: "4", max_percent_in_finished_product: 1.6}\n'
    with pytest.raises(CatalogueError, match=r"ifra\[1\]\.source"):
        parse_catalogue("materials:" + row)


SUBSTANCE = """
substances:
  - id: citral
    name: Citral
    cas: [5392-40-5]
    ifra_standard: restriction
    ifra:
      amendment: 49
      source: ifra
      limits: {'1': 0.11, '2': 0.032, '3': 0.1, '4': 0.6, 5A: 0.15, 5B: 0.15, 5C: 0.15,
               5D: 0.051, '6': 0.35, 7A: 0.2, 7B: 0.2, '8': 0.051, '9': not_read,
               10A: see_note, 10B: 4.2, 11A: 0.051, 11B: 0.051, '12': no_restriction}
      notes: {10A: the standard's note}
sources:
  ifra: IFRA Standard Citral
materials:
"""


def test_the_compact_table_reads_every_kind_of_cell() -> None:
    [citral] = parse_catalogue(SUBSTANCE + " []").substances.values()
    assert citral.limit_for("4") == citral.limits[3]
    assert citral.limit_for("4").allowed_percent == 0.6  # type: ignore[union-attr]
    assert citral.limit_for("4").amendment == "49"  # type: ignore[union-attr]
    assert citral.limit_for("12").unrestricted  # type: ignore[union-attr]
    assert not citral.lacks_figure_for("4")
    assert citral.lacks_figure_for("9")
    assert citral.lacks_figure_for("10A")
    assert citral.limit_for("10A").note == "the standard's note"  # type: ignore[union-attr]


def test_a_restriction_missing_a_category_is_rejected_not_passed() -> None:
    text = SUBSTANCE.replace("10B: 4.2, ", "")
    with pytest.raises(CatalogueError, match=r"'Citral'.*no figure for categories 10B"):
        parse_catalogue(text + " []")


def test_a_restriction_without_figures_says_what_was_searched() -> None:
    start = SUBSTANCE.index("      amendment")
    end = SUBSTANCE.index("sources:")
    text = (
        SUBSTANCE[:start]
        + "      no_figure_found: TGSC citral page, ScenTree citral page\n"
        + SUBSTANCE[end:]
    )
    [citral] = parse_catalogue(text + " []").substances.values()
    assert citral.limits == ()
    assert all(citral.lacks_figure_for(category) for category in ("4", "5A", "12"))
    assert "ScenTree" in citral.ifra_searched


def test_an_unknown_cell_word_is_rejected() -> None:
    with pytest.raises(CatalogueError, match=r"ifra\.limits\.4"):
        parse_catalogue(SUBSTANCE.replace("'4': 0.6", "'4': small") + " []")


@pytest.mark.parametrize(
    ("constituents", "field"),
    [
        ("[{substance: citral, percent: 2, source: gc}]", None),
        ("[{substance: unobtainium, percent: 2, source: gc}]", r"constituents\[1\]\.substance"),
        ("[{substance: citral, percent: 0, source: gc}]", r"constituents\[1\]\.percent"),
        ("[{substance: citral, percent: 2}]", r"constituents\[1\]\.source"),
        (
            "[{substance: citral, percent: 60, source: a},"
            " {substance: citral, percent: 50, source: b}]",
            "'constituents'",
        ),
    ],
)
def test_constituents_are_validated(constituents: str, field: str | None) -> None:
    text = SUBSTANCE + GOOD_ROW + f"    constituents: {constituents}\n"
    if field is None:
        coumarin = parse_catalogue(text).by_cas("91-64-5")
        assert coumarin.constituents[0].percent == 2
        [(substance, fraction)] = coumarin.contributions
        assert substance.id == "citral"
        assert fraction == pytest.approx(0.02)
        assert substance.limits[0].source == "IFRA Standard Citral"
        return
    with pytest.raises(CatalogueError, match=field) as error:
        parse_catalogue(text)
    assert "'Coumarin'" in str(error.value)


def test_a_material_is_the_substance_with_its_cas() -> None:
    text = SUBSTANCE + GOOD_ROW.replace("91-64-5", "5392-40-5").replace("Coumarin", "Citral")
    citral = parse_catalogue(text).by_cas("5392-40-5")
    assert citral.limit_for("4") is not None
    assert citral.contributions[0][1] == 1.0


def test_bad_substance_cas_is_named() -> None:
    with pytest.raises(CatalogueError, match=r"substance 1 \('Citral'\).*'cas'"):
        parse_catalogue(SUBSTANCE.replace("5392-40-5", "5392-40-6") + GOOD_ROW)


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


def test_every_named_source_is_cited() -> None:
    # A citation nobody points to is dead data that a reader would take for evidence.
    text = (Path(__file__).parents[2] / "fragrance_ai" / "data" / "ingredients.yaml").read_text()
    document = yaml.safe_load(text)
    for key in document["sources"]:
        assert re.search(rf"source: {re.escape(key)}$", text, re.MULTILINE), key

"""The documents a regulatory team signs: the IFRA certificate's limiting substance in each
category, and the allergen declaration against the Commission's own Annex III."""

import csv
import re
from datetime import date
from importlib import resources
from pathlib import Path

import pytest

from fragrance_ai.domain.catalogue import (
    Catalogue,
    Constituent,
    IfraLimit,
    IfraStandardType,
    Ingredient,
    Substance,
    Tier,
)
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.certificate import allergen_declaration, ifra_certificate
from fragrance_ai.domain.formula import Formula, FormulaLine
from fragrance_ai.domain.products import IFRA_CATEGORIES, ProductType

CATALOGUE = load_catalogue()

# The CosIng Annex III export (update of 28/08/2026), packaged with its provenance.
ANNEX_III = Path(str(resources.files("fragrance_ai"))) / "data/regulatory/cosing/annex_III.csv"

# Entries the export dates by Regulation (EU) 2023/1545 that are NOT new to labelling: they
# are among the 26 allergens labelled since Directive 2003/15/EC (2005), and 2023/1545 only
# rewrote the entry, so `added_2023` must stay false for them.
LABELLED_SINCE_2005 = {
    "45": "Benzyl alcohol: 2023/1545 moved its labelling from the deleted entry 68 to entry 45",
    "73": "Isoeugenol: 2023/1545 added the cis and trans isomers' CAS numbers",
    "86": "Citronellol: 2023/1545 added the enantiomers' CAS numbers",
    "88": "Limonene: 2023/1545 added the racemate's and enantiomers' CAS numbers",
}
# Entries whose export row does not give the label name in the INCI column, reviewed by hand.
LABEL_NAME_EXCEPTIONS = {
    "368": (
        "Eugenyl Acetate",
        "the export repeats the chemical name (Phenol, 2-methoxy-4-(2-propenyl)-, acetate) "
        "in the INCI column and names no identified ingredient; Eugenyl Acetate is the INCI "
        "name of CAS 93-28-7",
    ),
}
_CAS = re.compile(r"\b\d{2,7}-\d{2}-\d\b")
# The export quotes the label name with typographic or plain single quotes.
_INDICATED_AS = re.compile(r"indicated (?:as )?[\u2018'](.+?)[\u2019']")


def _key(label: str) -> str:
    """Label names compared as the Annex means them: the export breaks lines after a hyphen
    or a slash ("Beta- Caryophyllene", "Lavandula Oil/ Extract") and mixes case."""
    return " ".join(re.sub(r"([-/])\s+", r"\1", label).casefold().split())


def _allergen_entries() -> list[dict[str, str]]:
    with ANNEX_III.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header_at = next(i for i, row in enumerate(rows) if row[:1] == ["Reference Number"])
    entries = [dict(zip(rows[header_at], row, strict=False)) for row in rows[header_at + 1 :]]
    return [
        entry
        for entry in entries
        if "0,001 %" in entry["Other"]
        or "0.001%" in entry["Other"]
        or "2023/1545" in entry["Regulation"]
    ]


def _label_name(entry: dict[str, str]) -> str:
    if entry["Reference Number"] in LABEL_NAME_EXCEPTIONS:
        return LABEL_NAME_EXCEPTIONS[entry["Reference Number"]][0]
    quoted = _INDICATED_AS.search(entry["Other"])
    if quoted:
        return quoted.group(1)
    inci = entry["Name of Common Ingredients Glossary"].strip()
    if inci and inci != "-" and ";" not in inci:
        return inci
    return entry["Identified INGREDIENTS or substances e.g."].strip()


def _our_allergens() -> list[Substance]:
    return [s for s in CATALOGUE.substances.values() if s.allergen is not None]


def test_every_annex_iii_allergen_entry_is_in_the_data_with_its_label_name_and_2023_flag() -> None:
    entries = _allergen_entries()
    matched: set[str] = set()
    new, old = 0, 0
    for entry in entries:
        reference = entry["Reference Number"]
        assert "0,001 %" in entry["Other"] or "0.001%" in entry["Other"], (
            f"entry {reference} is dated 2023/1545 but sets no labelling threshold"
        )
        label = _label_name(entry)
        numbers = set(_CAS.findall(entry["CAS Number"]))
        ours = [
            s
            for s in _our_allergens()
            # By the substance's own (first) number: a Standard may list a generic number
            # beside it (72968-50-4, any Citrus aurantium amara extract, is under both the
            # flower oil's and the peel oil's entries).
            if s.label_cas in numbers or _key(s.allergen.inci if s.allergen else "") == _key(label)
        ]
        assert ours, f"Annex III entry {reference} ({label}) is not in the data"
        expected_new = "2023/1545" in entry["Regulation"] and reference not in LABELLED_SINCE_2005
        new, old = new + expected_new, old + (not expected_new)
        for substance in ours:
            assert substance.allergen is not None
            assert _key(substance.allergen.inci) == _key(label), (reference, substance.id)
            assert substance.allergen.added_2023 is expected_new, (reference, substance.id)
            matched.add(substance.id)
    # The 24 allergens of 2003/15/EC still allowed (26 less HICC and Lilial, now banned) and
    # the entries 2023/1545 added.
    assert (old, new) == (24, 57)
    # And the other way: nothing the data declares is missing from the Annex.
    assert {s.id for s in _our_allergens()} == matched


def _formula(
    items: list[tuple[str, float]], product: ProductType, dosage: float, catalogue: Catalogue
) -> Formula:
    lines = []
    for name, percent in items:
        material = catalogue.find(name)
        assert material is not None, name
        lines.append(
            FormulaLine(cas=material.cas, name=material.name, tier=material.tier, percent=percent)
        )
    return Formula(lines=lines, product=product, dosage_percent=dosage)


# A body lotion at 0.5 % perfume (the low end of the trade's 0.5-1 %), so that each of the
# three materials is above 0.001 % of the lotion only as itself: 1 % rose absolute is
# 0.005 %, 10 % bergamot FCF 0.05 %, 8 % distilled lemon 0.04 %.
ROSE_BERGAMOT_FCF_DISTILLED_LEMON = [
    ("Rose absolute", 1.0),
    ("Bergamot oil FCF", 10.0),
    ("Lemon oil distilled", 8.0),
    ("Hedione", 81.0),
]


def test_rose_absolute_bergamot_fcf_and_distilled_lemon_are_declared_in_a_body_lotion() -> None:
    formula = _formula(ROSE_BERGAMOT_FCF_DISTILLED_LEMON, ProductType.BODY_LOTION, 0.5, CATALOGUE)
    declaration = allergen_declaration(formula, CATALOGUE)
    lines = {line.inci: line for line in declaration.lines}
    for inci, material, in_product in (
        ("Rose Flower Oil/Extract", "Rose absolute", 0.005),
        ("Citrus Aurantium Bergamia Peel Oil", "Bergamot oil FCF", 0.05),
        ("Citrus Limon Peel Oil", "Lemon oil distilled", 0.04),
    ):
        line = lines[inci]
        assert line.materials == [material]
        assert line.percent_in_product == pytest.approx(in_product)
        assert line.declare
        assert line.added_2023
        assert inci.upper() in declaration.label_text


def test_a_2023_1545_entry_shows_its_transition_dates_and_an_older_entry_none() -> None:
    formula = _formula(ROSE_BERGAMOT_FCF_DISTILLED_LEMON, ProductType.BODY_LOTION, 0.5, CATALOGUE)
    declaration = allergen_declaration(formula, CATALOGUE)
    lines = {line.inci: line for line in declaration.lines}
    bergamot = lines["Citrus Aurantium Bergamia Peel Oil"]
    assert bergamot.labelled_on_new_products_from == date(2026, 7, 31)
    assert bergamot.labelled_on_all_products_from == date(2028, 7, 31)
    linalool = lines["Linalool"]
    assert not linalool.added_2023
    assert linalool.labelled_on_new_products_from is None
    assert linalool.labelled_on_all_products_from is None
    [note] = [note for note in declaration.notes if "2023/1545" in note]
    assert "31 July 2026" in note
    assert "31 July 2028" in note
    assert "Citrus Aurantium Bergamia Peel Oil" in note
    assert "Linalool" not in note


def test_two_oils_of_one_annex_entry_are_declared_once_on_their_summed_level() -> None:
    # Lavender and lavandin oils are both entry 360, 'Lavandula Oil/Extract': 0.06 % of each
    # in a concentrate used at 1 % is 0.0006 % each in the lotion, under 0.001 %, but 0.0012 %
    # together, over it.
    formula = _formula(
        [("Lavender oil", 0.06), ("Lavandin oil", 0.06), ("Hedione", 99.88)],
        ProductType.BODY_LOTION,
        1.0,
        CATALOGUE,
    )
    declaration = allergen_declaration(formula, CATALOGUE)
    [lavandula] = [line for line in declaration.lines if line.inci == "Lavandula Oil/Extract"]
    assert lavandula.percent_in_product == pytest.approx(0.0012)
    assert lavandula.declare
    assert lavandula.materials == ["Lavender oil", "Lavandin oil"]
    assert declaration.label_text.count("LAVANDULA OIL/EXTRACT") == 1


def test_the_certificate_names_cedrene_in_category_2_of_a_cologne_with_virginia_cedarwood() -> None:
    # 15 % Virginia cedarwood brings about 4 % cedrene (27 % of the oil); IFRA_STD_197 allows
    # 0.08 % in Category 2, so 0.08 / 4.05 = 1.98 % of the concentrate, below the phototoxic
    # sum of the expressed lemon (2 / 10 = 20 %) and every other limit there.
    formula = _formula(
        [
            ("Lemon oil", 10.0),
            ("Bergamot oil FCF", 20.0),
            ("Lavender oil", 10.0),
            ("Cedarwood oil Virginia", 15.0),
            ("Hedione", 45.0),
        ],
        ProductType.EDC,
        4.0,
        CATALOGUE,
    )
    certificate = ifra_certificate(formula, CATALOGUE, issued_on=date(2026, 9, 1), title="EDC")
    by_category = {item.category: item for item in certificate.categories}
    deodorant = by_category["2"]
    assert deodorant.limited_by == "Cedrene"
    assert deodorant.limit_percent_in_product == pytest.approx(0.08)
    cedrene_level = 15.0 * 0.27
    # Printed to two decimals from 1 % up.
    assert deodorant.max_percent_of_concentrate == round(0.08 / cedrene_level * 100, 2)


# A small catalogue of its own, so that the choice of the limiting substance is tested
# whatever the packaged data holds: a natural brings a constituent under a Standard, another
# material is a second restricted substance, a third is a phototoxic oil.
def _standard(substance_id: str, limits: dict[str, float | None], **extra: object) -> Substance:
    return Substance(
        id=substance_id,
        name=substance_id.capitalize(),
        cas=(),
        ifra_standard=IfraStandardType.RESTRICTION,
        limits=tuple(
            IfraLimit(category, value, source="test", amendment="51st")
            for category, value in limits.items()
        ),
        ifra_note="",
        allergen=None,
        **extra,  # type: ignore[arg-type]
    )


def _material(name: str, cas: str, contributions: list[tuple[Substance, float]]) -> Ingredient:
    return Ingredient(
        name=name,
        synonyms=(),
        cas=cas,
        tier=Tier.BASE,
        families=("woody",),
        descriptors=(),
        typical_use_min_percent=0.1,
        typical_use_max_percent=50,
        price_per_kg_eur=10,
        price_source="test",
        natural=True,
        ifra=(),
        constituents=tuple(Constituent(s, f * 100, "test") for s, f in contributions),
        contributions=tuple(contributions),
    )


def _every_category(value: float | None) -> dict[str, float | None]:
    return dict.fromkeys(IFRA_CATEGORIES, value)


def test_the_limiting_substance_is_the_one_that_caps_the_concentrate_lowest() -> None:
    # Woodene: 0.1 % everywhere, brought at 20 % by the wood oil and 5 % by the resin: at
    # 10 % + 10 % it is 2.5 % of the concentrate, so 0.1 / 2.5 = 4 %. Floralol: 1 %
    # everywhere but 0.05 % in Category 2, at 10 %: 10 % of the concentrate, 0.5 % in Cat 2.
    woodene = _standard("woodene", _every_category(0.1))
    floralol = _standard("floralol", {**_every_category(1.0), "2": 0.05})
    catalogue = Catalogue(
        [
            _material("Wood oil", "8000-27-9", [(woodene, 0.2)]),
            _material("Resin", "8007-00-9", [(woodene, 0.05)]),
            _material("Floralol", "78-70-6", [(floralol, 1.0)]),
            _material("Filler", "50-00-0", []),
        ],
        [woodene, floralol],
    )
    formula = _formula(
        [("Wood oil", 10), ("Resin", 10), ("Floralol", 10), ("Filler", 70)],
        ProductType.EDC,
        4.0,
        catalogue,
    )
    certificate = ifra_certificate(formula, catalogue, issued_on=date(2026, 9, 1), title="t")
    by_category = {item.category: item for item in certificate.categories}
    assert by_category["4"].limited_by == "Woodene"
    assert by_category["4"].max_percent_of_concentrate == pytest.approx(4.0)
    assert by_category["2"].limited_by == "Floralol"
    assert by_category["2"].max_percent_of_concentrate == pytest.approx(0.5)


def test_a_category_that_cannot_be_certified_names_why_not_another_substance() -> None:
    # Floralol has a figure in Category 2; Woodene's Standard gives none there.
    woodene = _standard("woodene", {c: 0.1 for c in IFRA_CATEGORIES if c != "2"})
    floralol = _standard("floralol", _every_category(0.05))
    catalogue = Catalogue(
        [
            _material("Wood oil", "8000-27-9", [(woodene, 0.2)]),
            _material("Floralol", "78-70-6", [(floralol, 1.0)]),
        ],
        [woodene, floralol],
    )
    formula = _formula([("Wood oil", 50), ("Floralol", 50)], ProductType.EDC, 4.0, catalogue)
    certificate = ifra_certificate(formula, catalogue, issued_on=date(2026, 9, 1), title="t")
    deodorant = next(item for item in certificate.categories if item.category == "2")
    assert deodorant.max_percent_of_concentrate is None
    assert deodorant.limited_by.startswith("cannot certify")
    assert "Woodene" in deodorant.limited_by
    assert "Floralol" not in deodorant.limited_by
    assert deodorant.limit_percent_in_product is None


def test_a_maximum_of_the_neat_concentrate_names_no_limiting_substance() -> None:
    # 1 % Floralol under a 33 % limit allows 3300 % of the concentrate: nothing limits it.
    floralol = _standard("floralol", _every_category(33.0))
    catalogue = Catalogue(
        [
            _material("Floralol", "78-70-6", [(floralol, 1.0)]),
            _material("Filler", "50-00-0", []),
        ],
        [floralol],
    )
    formula = _formula([("Floralol", 1), ("Filler", 99)], ProductType.EDC, 4.0, catalogue)
    certificate = ifra_certificate(formula, catalogue, issued_on=date(2026, 9, 1), title="t")
    for item in certificate.categories:
        assert item.max_percent_of_concentrate == 100
        assert item.limited_by == "no restricted substance"
        assert item.limit_percent_in_product is None


def test_a_certificate_read_before_a_standards_deadline_cannot_certify_and_says_why() -> None:
    formula = _formula([("Geraniol", 2.0), ("Hedione", 98.0)], ProductType.EDP, 18, CATALOGUE)
    early = ifra_certificate(
        formula, CATALOGUE, issued_on=date(2026, 12, 7), title="t", as_of=date(2023, 6, 1)
    )
    assert early.rules_as_of == date(2023, 6, 1)
    for category in early.categories:
        assert category.max_percent_of_concentrate is None
        assert "Geraniol" in category.cannot_certify
        assert "2024-03-30" in category.cannot_certify
    now = ifra_certificate(
        formula, CATALOGUE, issued_on=date(2026, 12, 7), title="t", as_of=date(2026, 12, 7)
    )
    assert all(category.max_percent_of_concentrate is not None for category in now.categories)

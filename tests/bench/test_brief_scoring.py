from collections import Counter
from pathlib import Path

import pytest

from bench.brief_scoring import (
    FIELDS,
    Expectation,
    LabelledBrief,
    Scores,
    format_table,
    load_labelled,
    score,
)
from fragrance_ai.domain.brief import CreativeBrief, Intensity
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.families import FAMILY_WORDS
from fragrance_ai.domain.products import ProductType


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def shipped(catalogue: Catalogue) -> list[LabelledBrief]:
    return load_labelled(catalogue=catalogue)


def _with_unmatched(brief: CreativeBrief, unmatched: list[str]) -> CreativeBrief:
    # model_copy sets the field whether or not this CreativeBrief declares it yet, the way a
    # parser's brief will carry it once it does.
    return brief.model_copy(update={"unmatched_notes": unmatched})


def _perfect(label: LabelledBrief) -> CreativeBrief:
    expect = label.expect
    brief = CreativeBrief(
        families=sorted(expect.families),
        notes=sorted(expect.notes),
        moods=sorted(expect.moods),
        seasons=sorted(expect.seasons),
        avoid=sorted(expect.avoid),
        intensity=expect.intensity or Intensity.MODERATE,
        product=expect.product or ProductType.EDP,
        dosage_percent=expect.dosage_percent,
        budget_per_kg_eur=expect.budget_per_kg_eur,
        longevity_hours=expect.longevity_hours,
        understood=expect.understood,
        defaults_used=[name for name in ("intensity", "product") if getattr(expect, name) is None],
    )
    return _with_unmatched(brief, sorted(expect.unmatched_notes))


def _label(expect: Expectation | None = None) -> LabelledBrief:
    return LabelledBrief("en-test-01", "en", "a brief", expect or Expectation(understood=True))


def _score_one(label: LabelledBrief, brief: CreativeBrief, catalogue: Catalogue) -> Scores:
    return score([(label, brief)], catalogue=catalogue)


def test_the_shipped_set_is_large_and_varied(shipped: list[LabelledBrief]) -> None:
    ids = [brief.id for brief in shipped]
    assert len(shipped) >= 48
    assert len(set(ids)) == len(ids)
    assert sum(brief.language == "ko" for brief in shipped) >= 16
    assert sum(not brief.expect.understood for brief in shipped) >= 4
    families = Counter(family for brief in shipped for family in brief.expect.families)
    assert {family: families[family] for family in FAMILY_WORDS if families[family] < 2} == {}


def test_a_perfect_parse_scores_one_everywhere(
    shipped: list[LabelledBrief], catalogue: Catalogue
) -> None:
    scores = score([(label, _perfect(label)) for label in shipped], catalogue=catalogue)
    for breakdown in (scores.total, *scores.by_language.values()):
        assert (breakdown.overall.precision, breakdown.overall.recall) == (1.0, 1.0)
        assert breakdown.overall.fp == breakdown.overall.fn == 0
        assert breakdown.understood.accuracy == 1.0
        assert breakdown.understood.non_briefs_understood == 0
    for name in FIELDS:
        assert scores.total.fields[name].recall == 1.0, name
    assert set(scores.by_language) == {"en", "ko"}


def test_a_missed_note_lowers_recall_only(catalogue: Catalogue) -> None:
    label = _label(Expectation(True, notes=frozenset({"Rose oil", "Jasmine absolute"})))
    # "rose" is a synonym: it must meet the canonical label.
    brief = CreativeBrief(notes=["rose"])
    notes = _score_one(label, brief, catalogue).total.fields["notes"]
    assert (notes.tp, notes.fp, notes.fn) == (1, 0, 1)
    assert (notes.precision, notes.recall) == (1.0, 0.5)


def test_an_extra_mood_lowers_precision_only(catalogue: Catalogue) -> None:
    label = _label(Expectation(True, moods=frozenset({"romantic"})))
    moods = _score_one(label, CreativeBrief(moods=["Romantic", "calm"]), catalogue).total
    assert (moods.fields["moods"].precision, moods.fields["moods"].recall) == (0.5, 1.0)


def test_a_defaulted_intensity_is_no_prediction(catalogue: Catalogue) -> None:
    defaulted = CreativeBrief(intensity=Intensity.MODERATE, defaults_used=["intensity"])
    stated = CreativeBrief(intensity=Intensity.MODERATE)

    silent = _score_one(_label(), defaulted, catalogue).total.fields["intensity"]
    assert (silent.tp, silent.fp, silent.fn) == (0, 0, 0)
    invented = _score_one(_label(), stated, catalogue).total.fields["intensity"]
    assert (invented.tp, invented.fp, invented.fn) == (0, 1, 0)
    missed = _score_one(_label(Expectation(True, intensity=Intensity.LIGHT)), defaulted, catalogue)
    counts = missed.total.fields["intensity"]
    assert (counts.tp, counts.fp, counts.fn) == (0, 0, 1)


def test_a_defaulted_family_list_is_no_prediction(catalogue: Catalogue) -> None:
    brief = CreativeBrief(families=["fresh", "citrus", "woody"], defaults_used=["families"])
    families = _score_one(
        _label(Expectation(True, families=frozenset({"amber"}))), brief, catalogue
    ).total.fields["families"]
    assert (families.tp, families.fp, families.fn) == (0, 0, 1)


@pytest.mark.parametrize(("predicted", "matches"), [(15.0000001, True), (15.1, False)])
def test_numbers_match_within_a_tolerance(
    catalogue: Catalogue, predicted: float, matches: bool
) -> None:
    counts = _score_one(
        _label(Expectation(True, dosage_percent=15.0)),
        CreativeBrief(dosage_percent=predicted),
        catalogue,
    ).total.fields["dosage_percent"]
    assert (counts.tp, counts.fp, counts.fn) == ((1, 0, 0) if matches else (0, 1, 1))


def test_names_are_compared_as_the_catalogue_and_designer_read_them(
    catalogue: Catalogue,
) -> None:
    label = _label(
        Expectation(
            True, families=frozenset({"amber"}), avoid=frozenset({"Patchouli oil", "gourmand"})
        )
    )
    brief = _with_unmatched(
        CreativeBrief(families=["Oriental"], avoid=["patchouli", "sweet"]), ["Fig Leaf"]
    )
    scores = _score_one(label, brief, catalogue).total
    assert scores.fields["families"].tp == 1
    assert scores.fields["avoid"].tp == 2
    assert scores.fields["unmatched_notes"].fp == 1


def test_a_non_brief_is_scored_on_detection_alone(catalogue: Catalogue) -> None:
    label = LabelledBrief("en-junk-01", "en", "aaaa", Expectation(understood=False))
    fooled = _score_one(label, CreativeBrief(notes=["Rose oil"], understood=True), catalogue)
    assert fooled.total.overall.fp == 0
    assert fooled.total.understood.non_briefs_understood == 1
    assert fooled.total.understood.accuracy == 0.0
    caught = _score_one(label, CreativeBrief(understood=False), catalogue).total.understood
    assert (caught.counts.precision, caught.counts.recall) == (1.0, 1.0)


def test_languages_are_broken_down_separately(catalogue: Catalogue) -> None:
    english = _label(Expectation(True, moods=frozenset({"calm"})))
    korean = LabelledBrief("ko-test-01", "ko", "차분한 향", english.expect)
    scores = score(
        [(english, CreativeBrief(moods=["calm"])), (korean, CreativeBrief())], catalogue=catalogue
    )
    assert scores.by_language["en"].fields["moods"].recall == 1.0
    assert scores.by_language["ko"].fields["moods"].recall == 0.0
    assert scores.total.fields["moods"].recall == 0.5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("families", "[citrussy]"),
        ("moods", "[happy]"),
        ("seasons", "[monsoon]"),
        ("product", "perfume"),
        ("intensity", "medium"),
        ("notes", "[Rose]"),
        ("notes", "[Unobtainium oil]"),
        ("unmatched_notes", "[rose]"),
        ("avoid", "[Patchouly oil]"),
        ("dosage_percent", "-3"),
    ],
)
def test_a_bad_label_names_its_entry_and_field(
    tmp_path: Path, catalogue: Catalogue, field: str, value: str
) -> None:
    path = tmp_path / "briefs.yaml"
    path.write_text(
        "- id: en-good-01\n  language: en\n  text: fresh citrus\n"
        "  expect: {understood: true, families: [citrus]}\n"
        f"- id: en-bad-07\n  language: en\n  text: anything\n"
        f"  expect: {{understood: true, {field}: {value}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=f"en-bad-07: {field}:"):
        load_labelled(path, catalogue=catalogue)


def test_a_duplicate_id_is_refused(tmp_path: Path, catalogue: Catalogue) -> None:
    entry = "- id: en-twin-01\n  language: en\n  text: rose\n  expect: {understood: true}\n"
    path = tmp_path / "briefs.yaml"
    path.write_text(entry * 2, encoding="utf-8")
    with pytest.raises(ValueError, match="en-twin-01: id:"):
        load_labelled(path, catalogue=catalogue)


def test_the_table_has_a_row_per_field_and_a_column_per_parser(
    shipped: list[LabelledBrief], catalogue: Catalogue
) -> None:
    perfect = score([(label, _perfect(label)) for label in shipped], catalogue=catalogue)
    silent = score(
        [(label, CreativeBrief(understood=False)) for label in shipped], catalogue=catalogue
    )
    table = format_table({"perfect": perfect, "silent": silent}, language="ko")
    lines = table.splitlines()
    assert lines[0] == "language: ko"
    assert "perfect" in lines[1]
    assert "silent" in lines[1]
    rows = {line.split()[0]: line.split()[1:] for line in lines[3 : 3 + len(FIELDS)]}
    assert rows["notes"] == ["1.00", "1.00", "1.00", "n/a", "0.00", "0.00"]
    assert "non-briefs taken as briefs 0/2" in table

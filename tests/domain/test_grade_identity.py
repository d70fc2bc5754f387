"""A CAS number or a name shared by several grades never resolves silently to one of them
(issue 24): entering 8008-26-2 must not exempt an expressed, phototoxic lime oil."""

from __future__ import annotations

import pytest

from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.declared_formula import (
    DeclaredFormulaInvalid,
    DeclaredLine,
    read_declared_formula,
)
from fragrance_ai.domain.products import ProductType

CATALOGUE = load_catalogue()


def _read(*lines: DeclaredLine) -> list[str]:
    """The names of the materials the lines resolve to."""
    filler = DeclaredLine(name="Hedione", cas=None, percent=100 - sum(x.percent for x in lines))
    checked = read_declared_formula([*lines, filler], ProductType.EDP, 18, CATALOGUE)
    return [line.name for line in checked.formula.lines[:-1]]


@pytest.mark.parametrize(
    ("cas", "grades"),
    [
        ("8008-26-2", {"Lime oil expressed", "Lime oil distilled"}),
        ("84929-31-7", {"Lemon oil", "Lemon oil distilled"}),
    ],
)
def test_a_cas_shared_by_grades_is_a_problem_listing_them(cas: str, grades: set[str]) -> None:
    with pytest.raises(DeclaredFormulaInvalid) as raised:
        _read(DeclaredLine(name=None, cas=cas, percent=2))
    [problem] = raised.value.problems
    assert (problem.kind, problem.field, problem.line) == ("ambiguous_material", "cas", 0)
    assert "name the grade" in problem.message
    for grade in grades:
        assert grade in problem.message


def test_a_name_picks_the_grade_a_shared_cas_leaves_open() -> None:
    assert _read(DeclaredLine(name="Lime oil expressed", cas="8008-26-2", percent=2)) == [
        "Lime oil expressed"
    ]
    assert _read(DeclaredLine(name="Lime oil distilled", cas="8008-26-2", percent=2)) == [
        "Lime oil distilled"
    ]


def test_a_grade_familys_name_is_a_problem_listing_its_grades() -> None:
    with pytest.raises(DeclaredFormulaInvalid) as raised:
        _read(DeclaredLine(name="lime oil", cas=None, percent=2))
    [problem] = raised.value.problems
    assert (problem.kind, problem.field) == ("ambiguous_material", "name")
    assert "Lime oil expressed" in problem.message
    assert "Lime oil distilled" in problem.message


def test_an_unshared_cas_or_name_still_resolves_alone() -> None:
    assert _read(DeclaredLine(name=None, cas="90063-52-8", percent=2)) == ["Lime oil expressed"]
    assert _read(DeclaredLine(name="Bergamot oil FCF", cas=None, percent=2)) == ["Bergamot oil FCF"]


def test_a_shared_number_declared_as_a_constituent_counts_against_the_strictest_grade() -> None:
    # A perfumer's own citrus accord declaring 30 % of 8008-26-2: the expressed oil's
    # phototoxicity Standard applies, as it would to the strictest grade.
    own = DeclaredLine(
        name="My lime accord", cas=None, percent=10, composition=[("8008-26-2", 30.0)]
    )
    filler = DeclaredLine(name="Hedione", cas=None, percent=90)
    checked = read_declared_formula([own, filler], ProductType.EDP, 18, CATALOGUE)
    [material] = checked.own.values()
    assert "lime_oil_expressed" in {substance.id for substance, _ in material.contributions}

"""A perfumer's own formula, as they declare it line by line, read against the catalogue.

Each line names a catalogue material (by name or CAS) or the perfumer's own material, which
is assessed on the composition they declare. Malformed lines (a wrong check digit, a name
that contradicts its CAS, a material given twice, a dosage out of range) are all reported
together, each with where it is; an unknown material is not a problem but an unassessed line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fragrance_ai.domain.catalogue import Catalogue, Ingredient, Tier, is_valid_cas
from fragrance_ai.domain.formula import Formula, FormulaLine
from fragrance_ai.domain.own_material import is_regulated_cas, own_material
from fragrance_ai.domain.products import ProductType, product_profile

NONE_KNOWN = "none_known"


@dataclass(frozen=True)
class DeclaredLine:
    name: str | None
    cas: str | None
    percent: float
    # For a material the catalogue lacks: its regulated constituents (CAS, percent), or
    # "none_known"; None when not given.
    composition: list[tuple[str, float]] | Literal["none_known"] | None = None
    tier: Tier | None = None


@dataclass(frozen=True)
class Problem:
    """What is wrong, and where: `line` None for the formula itself, else the line's index
    and its `field`."""

    kind: Literal["dosage_out_of_range", "invalid_line", "ambiguous_material"]
    field: str
    message: str
    value: object
    line: int | None = None


class DeclaredFormulaInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class CheckedFormula:
    formula: Formula
    # The perfumer's own materials (outside the catalogue) with a declared composition.
    own: dict[str, Ingredient] = field(default_factory=dict)
    # Lines that cannot be assessed (CAS or placeholder -> why).
    unassessable: dict[str, str] = field(default_factory=dict)


def read_declared_formula(
    lines: list[DeclaredLine],
    product: ProductType,
    dosage_percent: float | None,
    catalogue: Catalogue,
) -> CheckedFormula:
    """Resolves every line to a catalogue material or to the perfumer's own material;
    raises DeclaredFormulaInvalid naming every malformed line."""
    problems: list[Problem] = []
    profile = product_profile(product)
    dosage = dosage_percent or profile.default_dosage_percent
    if dosage > profile.max_dosage_percent:
        problems.append(
            Problem(
                "dosage_out_of_range",
                "dosage_percent",
                f"{dosage:g} % concentrate is not a plausible {profile.label}: at "
                f"most {profile.max_dosage_percent:g} %",
                dosage,
            )
        )
    formula_lines: list[FormulaLine] = []
    own: dict[str, Ingredient] = {}
    unassessable: dict[str, str] = {}
    seen: dict[str, int] = {}
    for index, line in enumerate(lines):
        candidates = _grades_named(line.name, line.cas, catalogue)
        if len(candidates) > 1:
            problems.append(_ambiguous(line, candidates, index))
            continue
        material, where, problem = _resolve(line.name, line.cas, catalogue)
        if material is None and not problem.startswith("no material"):
            value = line.cas if where == "cas" else line.name
            problems.append(Problem("invalid_line", where, problem, value, index))
            continue
        declared = line.composition if isinstance(line.composition, list) else []
        for number, _percent in declared:
            if not is_valid_cas(number):
                message = f"{number!r} is not a valid CAS number (shape or check digit)"
                problems.append(Problem("invalid_line", "composition", message, number, index))
        key = material.cas if material is not None else (line.cas or f"own:{index + 1}")
        if key in seen:
            given = line.name or line.cas
            message = f"{given} is already line {seen[key]}; give each material once"
            where = "name" if line.name else "cas"
            problems.append(Problem("invalid_line", where, message, given, index))
            continue
        seen[key] = index
        if material is not None:
            formula_lines.append(
                FormulaLine(
                    cas=material.cas, name=material.name, tier=material.tier, percent=line.percent
                )
            )
            continue
        name = line.name or f"Material {line.cas}"
        tier = line.tier or Tier.HEART
        formula_lines.append(FormulaLine(cas=key, name=name, tier=tier, percent=line.percent))
        if line.composition is None and not is_regulated_cas(key, catalogue):
            unassessable[key] = (
                "not in the catalogue and no composition given (declare its regulated "
                "constituents, or 'none_known')"
            )
            continue
        stripped = [(number.strip(), percent) for number, percent in declared]
        material, reason = own_material(
            name=name, cas=key, tier=tier, composition=stripped, catalogue=catalogue
        )
        own[key] = material
        if reason:
            unassessable[key] = reason
    if problems:
        raise DeclaredFormulaInvalid(problems)
    return CheckedFormula(
        formula=Formula(lines=formula_lines, product=product, dosage_percent=dosage),
        own=own,
        unassessable=unassessable,
    )


def _resolve(
    name: str | None, cas: str | None, catalogue: Catalogue
) -> tuple[Ingredient | None, str, str]:
    """The material a line names, or None with the field at fault and why."""
    if cas is not None:
        if not is_valid_cas(cas):
            return None, "cas", f"{cas!r} is not a valid CAS number (shape or check digit)"
        named = catalogue.find(name) if name is not None else None
        if named is not None and _is_filed_under(named, cas.strip()):
            # The name picks the grade a shared CAS leaves open ("Lime oil expressed",
            # 8008-26-2).
            return named, "cas", ""
        material = catalogue.find(cas) if cas.strip() in catalogue else None
        if material is None:
            return None, "cas", f"no material with CAS {cas} in the catalogue"
        if name is not None and catalogue.find(name) is not material:
            return None, "name", f"{name!r} is not the material with CAS {cas} ({material.name})"
        return material, "cas", ""
    if name is None:
        return None, "name", "give the material's name or its CAS number"
    material = catalogue.find(name)
    if material is None:
        return None, "name", f"no material named {name!r} in the catalogue"
    return material, "name", ""


def _grades_named(name: str | None, cas: str | None, catalogue: Catalogue) -> list[Ingredient]:
    """The catalogue materials a line could mean when it does not say which grade, in
    catalogue order; one or none when it is clear. A CAS alone may name several grades:
    8008-26-2 is filed as distilled lime oil, yet IFRA's Standard for expressed lime oil lists
    it too, and suppliers print it on expressed oils' paperwork. A name alone may be a grade
    family ("lime oil" for "Lime oil expressed" and "Lime oil distilled"). Resolving either to
    one grade silently could exempt a phototoxic oil; the perfumer names the grade instead."""
    if cas is not None:
        if name is not None or not is_valid_cas(cas):
            return []  # a name picks the grade; _resolve checks that it fits the CAS
        number = cas.strip()
        return [material for material in catalogue if _is_filed_under(material, number)]
    if name is None or catalogue.find(name) is not None:
        return []
    family = " ".join(name.lower().split()) + " "
    return [material for material in catalogue if material.name.lower().startswith(family)]


def _is_filed_under(material: Ingredient, cas: str) -> bool:
    """The material's own CAS, or one its Standard lists for it beside the catalogue's other
    grade (the material is the whole of a substance whose `shared_cas` hold that number)."""
    return material.cas == cas or any(
        cas in substance.shared_cas and material.cas in substance.cas
        for substance, fraction in material.contributions
        if fraction >= 1.0
    )


def _ambiguous(line: DeclaredLine, candidates: list[Ingredient], index: int) -> Problem:
    names = ", ".join(f"{material.name} ({material.cas})" for material in candidates)
    if line.cas is not None:
        message = f"{line.cas.strip()} names several grades: {names}; name the grade"
        return Problem("ambiguous_material", "cas", message, line.cas, index)
    message = f"{line.name!r} names several grades: {names}; name the grade"
    return Problem("ambiguous_material", "name", message, line.name, index)

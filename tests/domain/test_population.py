"""The vectorised check gives the verdict `check_compliance` gives, formula by formula."""

import numpy as np
import pytest

from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.compliance import Verdict, check_compliance
from fragrance_ai.domain.formula import Formula, FormulaLine
from fragrance_ai.domain.population import (
    CANNOT_CERTIFY,
    COMPLIANT,
    NOT_COMPLIANT,
    check_population,
)
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.rules import rule_book

CATALOGUE = load_catalogue()
CODES = {COMPLIANT: Verdict.COMPLIANT, CANNOT_CERTIFY: Verdict.CANNOT_CERTIFY,
         NOT_COMPLIANT: Verdict.NOT_COMPLIANT}  # fmt: skip


@pytest.mark.parametrize("product", [ProductType.EDP, ProductType.BODY_LOTION, ProductType.CANDLE])
def test_population_verdicts_match_the_single_formula_check(product: ProductType) -> None:
    book = rule_book(CATALOGUE, product)
    rng = np.random.default_rng(7)
    population = np.zeros((300, len(book.material_cas)))
    for row in population:
        chosen = rng.choice(len(book.material_cas), size=int(rng.integers(3, 25)), replace=False)
        # Small shares for most lines so that every verdict occurs.
        shares = rng.dirichlet(np.full(len(chosen), 0.3))
        row[chosen] = shares * 100
    dosage = {ProductType.EDP: 18.0, ProductType.BODY_LOTION: 1.0, ProductType.CANDLE: 8.0}[product]
    result = check_population(population, book, dosage)
    seen = set()
    materials = {material.cas: material for material in CATALOGUE}
    for row, code in zip(population, result.verdicts, strict=True):
        lines = [
            FormulaLine(cas=cas, name=materials[cas].name, tier=materials[cas].tier, percent=p)
            for cas, p in zip(book.material_cas, row, strict=True)
            if p > 0
        ]
        report = check_compliance(
            Formula(lines=lines, product=product, dosage_percent=dosage), CATALOGUE
        )
        assert CODES[int(code)] is report.verdict
        seen.add(report.verdict)
    assert Verdict.NOT_COMPLIANT in seen
    assert len(seen) >= 2


def test_a_wrongly_shaped_population_is_refused() -> None:
    book = rule_book(CATALOGUE, ProductType.EDP)
    with pytest.raises(ValueError, match="matrix"):
        check_population(np.zeros((3, 5)), book, 18)

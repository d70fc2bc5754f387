"""The compliance verdict of many formulas at once, for optimisers.

A population is a matrix: one row per formula, one column per catalogue material (in the
rule book's `material_cas` order), each cell percent of the concentrate. Substance levels in
the finished product are one matrix product with the rule book's material x substance
fractions; limits, missing figures and the phototoxic additive rule are compared column-wise.
Same rules and same verdicts as `check_compliance`, which stays the judge of a single formula
and explains its verdict; this only says which formulas pass and by how much others fail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fragrance_ai.domain.rules import TOLERANCE_PERCENT, RuleBook

# Verdict codes, in the order an optimiser ranks them.
COMPLIANT, CANNOT_CERTIFY, NOT_COMPLIANT = 0, 1, 2


@dataclass(frozen=True)
class PopulationVerdicts:
    # One code per formula: COMPLIANT, CANNOT_CERTIFY or NOT_COMPLIANT.
    verdicts: npt.NDArray[np.int8]
    # How far over its limits each formula is: the sum over substances of the excess level
    # relative to the limit (0 when within every limit); for constraint domination.
    violation: npt.NDArray[np.float64]
    phototoxic_sum: npt.NDArray[np.float64]
    # Levels in the finished product, percent (formulas x substances).
    levels: npt.NDArray[np.float64]


def check_population(
    amounts: npt.NDArray[np.float64], book: RuleBook, dosage_percent: float
) -> PopulationVerdicts:
    if amounts.ndim != 2 or amounts.shape[1] != len(book.material_cas):
        raise ValueError(
            f"expected a (formulas x {len(book.material_cas)}) matrix, got {amounts.shape}"
        )
    levels = amounts @ book.fractions * (dosage_percent / 100)
    present = levels > 0
    limits = book.limit_vector
    over = present & (levels > limits + TOLERANCE_PERCENT)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(over, (levels - limits) / np.where(limits > 0, limits, 1.0), 0.0)
        phototoxic = np.where(present, levels / book.phototoxic_vector, 0.0).sum(axis=1)
    # A prohibited substance (limit 0) counts its level itself as the excess.
    relative = np.where(over & (limits == 0), levels + 1.0, relative)
    phototoxic_over = phototoxic > 1 + TOLERANCE_PERCENT
    violation = relative.sum(axis=1) + np.where(phototoxic_over, phototoxic - 1, 0.0)
    missing = (present & book.missing_vector).any(axis=1)
    failing = over.any(axis=1) | phototoxic_over
    verdicts = np.where(failing, NOT_COMPLIANT, np.where(missing, CANNOT_CERTIFY, COMPLIANT))
    return PopulationVerdicts(
        verdicts=verdicts.astype(np.int8),
        violation=violation,
        phototoxic_sum=phototoxic,
        levels=levels,
    )

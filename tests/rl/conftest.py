from __future__ import annotations

import numpy as np
import pytest

from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.designer import RuleBasedDesigner
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.rl.environment import Start
from fragrance_ai.rl.features import BriefContext
from fragrance_ai.rl.materials import MaterialTable, material_table

BRIEFS = (
    "warm amber EDP for winter with vanilla",
    "fresh citrus cologne for summer with a woody base",
    "green floral eau de toilette",
    "spicy woody perfume with leather",
)


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def table(catalogue: Catalogue) -> MaterialTable:
    return material_table(catalogue)


@pytest.fixture(scope="session")
def starts(table: MaterialTable) -> list[Start]:
    parser = DeterministicBriefParser(table.catalogue)
    made = []
    for text in BRIEFS:
        brief = parser.parse(text)
        for designed in RuleBasedDesigner(table.catalogue).design(brief, count=2):
            formula = designed.formula
            made.append(
                Start(
                    amounts=table.vector_of(formula),
                    product=formula.product,
                    dosage_percent=formula.dosage_percent,
                    context=BriefContext.of(table, brief),
                )
            )
    return made


def amounts_of(starts: list[Start]) -> np.ndarray:
    return np.stack([start.amounts for start in starts])

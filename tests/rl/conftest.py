from __future__ import annotations

import numpy as np
import pytest

from bench.rl import designed_starts
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.rl.environment import Start
from fragrance_ai.rl.materials import MaterialTable, material_table


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def table(catalogue: Catalogue) -> MaterialTable:
    return material_table(catalogue)


@pytest.fixture(scope="session")
def starts(table: MaterialTable) -> list[Start]:
    return designed_starts(table)


def amounts_of(starts: list[Start]) -> np.ndarray:
    return np.stack([start.amounts for start in starts])

"""One catalogue and parser for the optimiser's tests, and the modes as configured."""

from __future__ import annotations

import functools

from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.optimize.design import Design, design_options
from fragrance_ai.optimize.evaluate import Objective
from fragrance_ai.optimize.search import SearchConfig
from fragrance_ai.settings import InferenceMode, Settings

CATALOGUE = load_catalogue()
PARSER = DeterministicBriefParser(CATALOGUE)
SETTINGS = Settings()


def config_for(mode: InferenceMode, seed: int = 7) -> SearchConfig:
    search = SETTINGS.optimizer.modes[mode]
    return SearchConfig(
        population=search.population,
        generations=search.generations,
        objectives=tuple(Objective(name) for name in search.objectives),
        mutation_steps=search.mutation_steps,
        seed=seed,
    )


@functools.cache
def designed(text: str, mode: InferenceMode = InferenceMode.BALANCED, seed: int = 7) -> Design:
    return design_options(
        CATALOGUE, brief_of(text), config_for(mode, seed), count=SETTINGS.optimizer.options
    )


@functools.cache
def brief_of(text: str) -> CreativeBrief:
    return PARSER.parse(text)

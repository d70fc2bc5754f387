"""The in-process workers' first brief, rehearsed at start: a deterministic reading and a small
design of a sample brief, nothing stored. The first real brief then finds the parser's
lexicons built and the optimiser's code paths run once (about 0.7 s of the first brief's
3 s on 2 cores went to first calls), instead of paying for them while the perfumer waits.
"""

from __future__ import annotations

import logging
import time

from fragrance_ai.runtime import Runtime

log = logging.getLogger(__name__)

SAMPLE_BRIEF = "warm amber eau de parfum for winter evenings with vanilla and a woody base"


def warm_up(runtime: Runtime) -> None:
    from fragrance_ai.domain.parser import DeterministicBriefParser
    from fragrance_ai.optimize.design import design_options
    from fragrance_ai.optimize.evaluate import Objective
    from fragrance_ai.optimize.search import SearchConfig
    from fragrance_ai.settings import InferenceMode

    started = time.perf_counter()
    brief = DeterministicBriefParser(runtime.catalogue).parse(SAMPLE_BRIEF)
    fast = runtime.settings.optimizer.modes[InferenceMode.FAST]
    config = SearchConfig(
        population=fast.population,
        generations=1,
        objectives=tuple(Objective(name) for name in fast.objectives),
        mutation_steps=fast.mutation_steps,
    )
    design_options(runtime.catalogue, brief, config, count=1)
    log.info("workers warmed up in %.1f s", time.perf_counter() - started)

"""Time of the formula search per mode (wall and CPU), and the speed-up of the vectorised
evaluation over evaluating the same population one formula at a time with plain Python and
the compliance engine, all measured in one run.

    .venv/bin/python -m bench.optimize [--rounds 3] [--brief TEXT]

Goals: balanced mode at most 1 s of CPU; vectorised evaluation at least 20x.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.optimize.design import design_options
from fragrance_ai.optimize.evaluate import Archive, Objective, evaluate, evaluate_one
from fragrance_ai.optimize.operators import random_formula
from fragrance_ai.optimize.search import SearchConfig
from fragrance_ai.optimize.space import build_space
from fragrance_ai.settings import InferenceMode, Settings

BRIEF = "warm oriental evening eau de parfum with vanilla and amber"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--brief", default=BRIEF)
    args = parser.parse_args()

    catalogue = load_catalogue()
    brief = DeterministicBriefParser(catalogue).parse(args.brief)
    settings = Settings()
    print(f"brief: {args.brief!r}; families {brief.families}, notes {brief.notes}")
    for mode in InferenceMode:
        search = settings.optimizer.modes[mode]
        config = SearchConfig(
            population=search.population,
            generations=search.generations,
            objectives=tuple(Objective(o) for o in search.objectives),
            mutation_steps=search.mutation_steps,
            seed=1,
        )
        walls, cpus = [], []
        for _ in range(args.rounds):
            wall, cpu = time.perf_counter(), time.process_time()
            design = design_options(catalogue, brief, config, count=settings.optimizer.options)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        print(
            f"{mode.value:>9}: population {config.population}, {config.generations} "
            f"generations, {design.evaluations} evaluations: median {statistics.median(walls):.3f} "
            f"s wall, {statistics.median(cpus):.3f} s CPU (best {min(cpus):.3f}); "
            f"{len(design.options)} options, final hypervolume "
            f"{design.generations[-1].hypervolume:.4f}"
        )

    space = build_space(catalogue, brief)
    rng = np.random.default_rng(0)
    population = [
        random_formula(space, rng)
        for _ in range(settings.optimizer.modes[InferenceMode.BALANCED].population)
    ]
    matrix = np.array(population)
    archive = Archive.empty(space)
    objectives = tuple(Objective)
    vectorised, one_by_one = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for _ in range(20):
            evaluate(space, matrix, objectives, archive)
        vectorised.append((time.perf_counter() - start) / 20)
        start = time.perf_counter()
        for vector in population:
            evaluate_one(space, vector, archive, catalogue)
        one_by_one.append(time.perf_counter() - start)
    fast, slow = statistics.median(vectorised), statistics.median(one_by_one)
    print(
        f"evaluation of {len(population)} formulas ({space.size} candidate materials): "
        f"vectorised {fast * 1e3:.2f} ms, one by one {slow * 1e3:.1f} ms, "
        f"speed-up {slow / fast:.0f}x (median of {args.rounds} rounds)"
    )


if __name__ == "__main__":
    main()

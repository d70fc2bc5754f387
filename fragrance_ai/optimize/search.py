"""NSGA-II over formulas: DEAP's non-dominated sort and crowding distance (`selNSGA2` with
the logarithmic sort, which gives the same fronts, tested), our own operators and the
vectorised evaluation. Deterministic under a seed: every random draw comes from one NumPy
generator, and DEAP's selection draws none.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import moocore
import numpy as np
from deap import base, tools

from fragrance_ai.optimize.evaluate import Archive, Evaluation, Objective, evaluate
from fragrance_ai.optimize.ideas import Idea, idea_of
from fragrance_ai.optimize.operators import crossover, mutate, random_formula, settle
from fragrance_ai.optimize.space import SearchSpace, Vector

# Hypervolume reference point per objective (losses): a formula worse than this on any
# objective adds no volume. Cost: three times the budget or the reference price.
HYPERVOLUME_REFERENCE = {
    Objective.BRIEF_FIT: 1.0,
    Objective.PYRAMID: 1.0,
    Objective.COST: 3.0,
    Objective.NOVELTY: 1.0,
}


@dataclass(frozen=True)
class SearchConfig:
    population: int
    generations: int
    objectives: tuple[Objective, ...]
    # Edits per mutation; more edits wander further from the parents.
    mutation_steps: int = 1
    crossover_probability: float = 0.8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.population < 4 or self.population % 4:
            raise ValueError("population must be a positive multiple of 4 (tournament pairs)")
        if self.generations < 0:
            raise ValueError("generations must be at least 0")
        if not self.objectives or len(set(self.objectives)) != len(self.objectives):
            raise ValueError("objectives must be distinct and at least one")


@dataclass(frozen=True)
class GenerationStats:
    generation: int
    evaluations: int
    feasible: int
    hypervolume: float
    best: dict[str, float]
    mean: dict[str, float]


@dataclass(eq=False)  # identity: two formulas may be equal and still be two individuals
class Individual:
    genome: Vector
    fitness: base.Fitness
    born: int
    fit: float = 0.0
    pyramid_balance: float = 0.0
    cost_per_kg_eur: float = 0.0
    novelty: float = 0.0
    feasible: bool = False
    rank: int = 0
    compliant: bool = False
    violation: float = 0.0


@dataclass(frozen=True)
class SearchRun:
    space: SearchSpace
    config: SearchConfig
    population: list[Individual]
    generations: list[GenerationStats] = field(default_factory=list)
    evaluations: int = 0
    # The best-fitting feasible formula of each idea met during the run (ideas.py).
    champions: list[Individual] = field(default_factory=list)


@functools.cache
def _fitness_class(objectives: int) -> type[base.Fitness]:
    # DEAP reads the weights from the class; every objective here is a loss.
    return type(f"Losses{objectives}", (base.Fitness,), {"weights": (-1.0,) * objectives})


def run_search(
    space: SearchSpace,
    config: SearchConfig,
    *,
    archive: Archive,
    seeds: Sequence[Vector] = (),
    on_generation: Callable[[GenerationStats], None] | None = None,
) -> SearchRun:
    rng = np.random.default_rng(config.seed)
    genomes = [settle(seed.copy(), space, rng) for seed in seeds][: config.population]
    while len(genomes) < config.population:
        genomes.append(random_formula(space, rng))
    population = _evaluated(space, config, genomes, archive, born=0)
    champions: dict[Idea, Individual] = {}
    _keep_champions(space, population, champions)
    population = tools.selNSGA2(population, config.population, nd="log")
    _assign_ranks(population)
    evaluations = len(population)
    history = [_stats(config, population, generation=0, evaluations=evaluations)]
    if on_generation:
        on_generation(history[-1])
    for generation in range(1, config.generations + 1):
        parents = _tournament(population, rng)
        children: list[Vector] = []
        for first, second in zip(parents[::2], parents[1::2], strict=True):
            if rng.random() < config.crossover_probability:
                one, two = crossover(first.genome, second.genome, space, rng)
            else:
                one, two = first.genome.copy(), second.genome.copy()
            children.append(mutate(one, space, rng, config.mutation_steps))
            children.append(mutate(two, space, rng, config.mutation_steps))
        offspring = _evaluated(space, config, children, archive, born=generation)
        _keep_champions(space, offspring, champions)
        evaluations += len(offspring)
        population = tools.selNSGA2(population + offspring, config.population, nd="log")
        _assign_ranks(population)
        history.append(_stats(config, population, generation, evaluations))
        if on_generation:
            on_generation(history[-1])
    return SearchRun(space, config, population, history, evaluations, list(champions.values()))


def _keep_champions(
    space: SearchSpace, individuals: list[Individual], champions: dict[Idea, Individual]
) -> None:
    for individual in individuals:
        if not individual.feasible:
            continue
        idea = idea_of(space, individual.genome)
        best = champions.get(idea)
        if best is None or individual.fit > best.fit:
            champions[idea] = individual


def random_search(
    space: SearchSpace, config: SearchConfig, *, archive: Archive, evaluations: int
) -> float:
    """Hypervolume of the feasible non-dominated set of `evaluations` random formulas: the
    baseline NSGA-II must beat with the same budget."""
    rng = np.random.default_rng(config.seed)
    genomes = [random_formula(space, rng) for _ in range(evaluations)]
    population = _evaluated(space, config, genomes, archive, born=0)
    return hypervolume(population, config.objectives)


def hypervolume(population: Sequence[Individual], objectives: tuple[Objective, ...]) -> float:
    points = np.array([i.fitness.values for i in population if i.feasible])
    if points.size == 0:
        return 0.0
    reference = np.array([HYPERVOLUME_REFERENCE[o] for o in objectives])
    inside = points[(points < reference).all(axis=1)]
    if inside.size == 0:
        return 0.0
    return float(moocore.hypervolume(inside, ref=reference))


def _evaluated(
    space: SearchSpace,
    config: SearchConfig,
    genomes: list[Vector],
    archive: Archive,
    *,
    born: int,
) -> list[Individual]:
    scores: Evaluation = evaluate(space, np.array(genomes), config.objectives, archive)
    fitness = _fitness_class(len(config.objectives))
    individuals = []
    for row, genome in enumerate(genomes):
        individual = Individual(
            genome=genome,
            fitness=fitness(),
            born=born,
            fit=float(scores.fit[row]),
            pyramid_balance=float(scores.pyramid_balance[row]),
            cost_per_kg_eur=float(scores.cost_per_kg_eur[row]),
            novelty=float(scores.novelty[row]),
            feasible=bool(scores.feasible[row]),
            compliant=bool(scores.compliant[row]),
            violation=float(scores.violation[row]),
        )
        individual.fitness.values = tuple(float(v) for v in scores.losses[row])
        individuals.append(individual)
    return individuals


def _assign_ranks(population: list[Individual]) -> None:
    for rank, front in enumerate(tools.sortLogNondominated(population, len(population))):
        for individual in front:
            individual.rank = rank


def _tournament(population: list[Individual], rng: np.random.Generator) -> list[Individual]:
    """Binary tournament by crowded comparison: the lower front wins, then the larger
    crowding distance (selNSGA2 has just set it)."""
    picks = rng.integers(len(population), size=(len(population), 2))
    winners = []
    for a, b in picks:
        first, second = population[a], population[b]
        if first.rank != second.rank:
            winners.append(first if first.rank < second.rank else second)
        else:
            crowd_a = first.fitness.crowding_dist
            crowd_b = second.fitness.crowding_dist
            winners.append(first if crowd_a >= crowd_b else second)
    return winners


def _stats(
    config: SearchConfig, population: list[Individual], generation: int, evaluations: int
) -> GenerationStats:
    """Best and mean loss per objective over the feasible formulas (an infeasible one's
    losses are ranking devices, not scores), and the hypervolume they dominate."""
    feasible = [i for i in population if i.feasible]
    names = [objective.value for objective in config.objectives]
    best: dict[str, float] = {}
    mean: dict[str, float] = {}
    if feasible:
        losses = np.array([i.fitness.values for i in feasible])
        best = dict(zip(names, losses.min(axis=0).round(6).tolist(), strict=True))
        mean = dict(zip(names, losses.mean(axis=0).round(6).tolist(), strict=True))
    return GenerationStats(
        generation=generation,
        evaluations=evaluations,
        feasible=len(feasible),
        hypervolume=round(hypervolume(population, config.objectives), 6),
        best=best,
        mean=mean,
    )

"""Time to check a 40-ingredient formula against the IFRA and EU limits and allergen list,
to repair it, and to check a population of 100 such formulas at once (the optimiser's
vectorised path), in microseconds per call (median of several rounds), all in one run, for
the data before issue 24 (read from git: the baseline) and with every IFRA Standard and EU
annex entry merged.

    .venv/bin/python -m bench.compliance [--rounds 7] [--calls 2000]

The formula mixes naturals (whose constituents are summed) with aroma chemicals, and is
made non-compliant on purpose (bergamot, oakmoss and citral over their Category 4 limits)
so that the repair does real work.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from collections.abc import Callable

import numpy as np

from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import (
    DATA_FILE,
    load_catalogue,
    parse_catalogue,
)
from fragrance_ai.domain.compliance import check_compliance
from fragrance_ai.domain.formula import Formula, FormulaLine
from fragrance_ai.domain.population import check_population
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.repair import repair_formula
from fragrance_ai.domain.rules import rule_book

POPULATION = 100

FORTY = [
    ("Bergamot oil", 8), ("Lemon oil", 3), ("Mandarin oil", 2), ("Lavender oil", 2),
    ("Petitgrain bigarade oil", 1.5), ("Citral", 2), ("Linalool", 3), ("Dihydromyrcenol", 2),
    ("Cardamom oil", 0.5), ("Pink pepper oil", 0.5), ("Aldehyde C-10", 0.2),
    ("Aldehyde C-12 MNA", 0.3), ("Lemongrass oil", 0.5),
    ("Hedione", 15), ("Rose oil", 0.5), ("Jasmine absolute", 0.5), ("Geranium oil", 1),
    ("Phenylethyl alcohol", 4), ("Citronellol", 1.5), ("Geraniol", 0.5), ("Ylang ylang oil", 0.5),
    ("Alpha-isomethyl ionone", 2), ("Beta-ionone", 0.5), ("Benzyl salicylate", 3),
    ("Hexyl cinnamal", 2), ("Clove bud oil", 0.3), ("Neroli oil", 0.2),
    ("Iso E Super", 10), ("Galaxolide", 8), ("Ambroxan", 1), ("Cedarwood oil Virginia", 3),
    ("Patchouli oil", 3), ("Vetiver oil", 1), ("Oakmoss absolute", 1.5), ("Sandalore", 2),
    ("Vanillin", 1), ("Coumarin", 1), ("Ethylene brassylate", 3), ("Labdanum resinoid", 0.5),
    ("Benzoin resinoid", 1.5),
]  # fmt: skip


def forty_ingredient_formula(catalogue: Catalogue) -> Formula:
    lines = []
    for name, percent in FORTY:
        material = catalogue.find(name)
        if material is None:
            raise SystemExit(f"{name} is not in the catalogue")
        lines.append(
            FormulaLine(cas=material.cas, name=material.name, tier=material.tier, percent=percent)
        )
    total = sum(line.percent for line in lines)
    lines = [line.model_copy(update={"percent": line.percent * 100 / total}) for line in lines]
    return Formula(lines=lines, product=ProductType.EDP, dosage_percent=18)


def population_of(formula: Formula, catalogue: Catalogue) -> np.ndarray:
    """The formula and 99 perturbations of it (each line scaled by 0.5-1.5, seeded), as the
    optimiser's matrix: rows are formulas, columns the rule book's materials."""
    book = rule_book(catalogue, formula.product)
    column = book.material_index()
    rng = np.random.default_rng(0)
    base = np.zeros(len(book.material_cas))
    for line in formula.lines:
        base[column[line.cas]] = line.percent
    population = base * rng.uniform(0.5, 1.5, size=(POPULATION, len(base)))
    population[0] = base
    normalised: np.ndarray = population / population.sum(axis=1, keepdims=True) * 100
    return normalised


def time_per_call_us(work: Callable[[], object], *, rounds: int, calls: int) -> list[float]:
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            work()
        timings.append((time.perf_counter() - start) / calls * 1e6)
    return timings


# The last commit before issue 24 merged IFRA's overview and the EU annexes into the data.
BASELINE_REVISION = "428d603"


def data_at(revision: str) -> Catalogue:
    """The baseline: the catalogue as the data file of an earlier revision holds it, read from
    git and timed in the same run."""
    try:
        text = subprocess.run(
            ["git", "show", f"{revision}:fragrance_ai/data/{DATA_FILE}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise SystemExit(f"cannot read the baseline data at {revision} from git: {error}") from None
    return parse_catalogue(text, source=f"{revision}:{DATA_FILE}")


def measure(catalogue: Catalogue, args: argparse.Namespace, label: str) -> dict[str, float]:
    formula = forty_ingredient_formula(catalogue)
    report = check_compliance(formula, catalogue)
    population = population_of(formula, catalogue)
    book = rule_book(catalogue, formula.product)
    verdicts = check_population(population, book, formula.dosage_percent).verdicts
    codes = sorted({int(v) for v in verdicts})
    print(
        f"{label}: {len(catalogue.substances)} substances ({len(book.substance_ids)} columns); "
        f"formula: {len(formula.lines)} ingredients, EDP at {formula.dosage_percent:g} %, "
        f"{report.checked_substances} regulated substances, {len(report.violations)} "
        f"violations, {len(report.allergens_to_declare)} allergens to declare; population of "
        f"{POPULATION}: verdict codes {codes} (0 compliant, 1 cannot_certify, 2 not_compliant)"
    )
    medians = {}
    for name, work, calls in (
        ("check_compliance", lambda: check_compliance(formula, catalogue), args.calls),
        ("repair_formula", lambda: repair_formula(formula, catalogue), max(args.calls // 4, 1)),
        (
            f"check_population[{POPULATION}]",
            lambda: check_population(population, book, formula.dosage_percent),
            max(args.calls // 4, 1),
        ),
    ):
        timings = time_per_call_us(work, rounds=args.rounds, calls=calls)
        medians[name] = statistics.median(timings)
        print(
            f"{name:>22}: median {medians[name]:7.1f} us per call "
            f"(best {min(timings):.1f}, worst {max(timings):.1f}; {args.rounds} rounds of "
            f"{calls} calls)"
        )
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument(
        "--baseline",
        default=BASELINE_REVISION,
        help="git revision whose data file is the baseline (default: before issue 24)",
    )
    args = parser.parse_args()

    baseline = measure(data_at(args.baseline), args, f"baseline, the data at {args.baseline}")
    current = measure(load_catalogue(), args, "with IFRA's overview and the EU annexes")
    for name, us in current.items():
        print(f"{name:>22}: {us / baseline[name]:.2f}x the baseline")


if __name__ == "__main__":
    main()

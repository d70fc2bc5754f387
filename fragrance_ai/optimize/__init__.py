"""Multi-objective formula search (DEAP NSGA-II) over the catalogue, for one brief.

`space` says which materials may appear and in what amounts, `operators` builds and varies
formulas inside those bounds, `evaluate` scores a whole population at once, `search` runs
NSGA-II, and `options` picks the few formulas a perfumer is shown. Pure apart from DEAP's
own state: the job wiring lives in `fragrance_ai.jobs`.
"""

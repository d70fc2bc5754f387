"""How complete the regulatory data is: `python -m fragrance_ai.domain.coverage`.

Counts, for the substances under an IFRA restriction or prohibition, how many carry a figure
for all 18 categories, how many for some, and how many record `no_figure_found` with what
was searched; and the EU entries, allergens and materials beside them.
"""

from __future__ import annotations

from fragrance_ai.domain.catalogue import Catalogue, IfraStandardType
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.products import IFRA_CATEGORIES


def coverage_lines(catalogue: Catalogue) -> list[str]:
    restricted = [
        s
        for s in catalogue.substances.values()
        if s.ifra_standard in (IfraStandardType.RESTRICTION, IfraStandardType.PROHIBITION)
    ]
    full: list[tuple[str, int]] = []
    partial: list[tuple[str, int]] = []
    none: list[tuple[str, int]] = []
    for substance in restricted:
        figures = sum(not substance.lacks_figure_for(category) for category in IFRA_CATEGORIES)
        (full if figures == len(IFRA_CATEGORIES) else partial if figures else none).append(
            (substance.id, figures)
        )
    specification = [
        s.id
        for s in catalogue.substances.values()
        if s.ifra_standard is IfraStandardType.SPECIFICATION
    ]
    return [
        f"materials: {len(catalogue)} ({sum(m.natural for m in catalogue)} naturals)",
        f"substances: {len(catalogue.substances)}",
        f"under an IFRA restriction or prohibition: {len(restricted)}",
        f"  figures for all 18 categories: {len(full)}: {', '.join(i for i, _ in full)}",
        "  figures for some categories (the rest not_read/see_note): "
        f"{len(partial)}: {', '.join(f'{i} ({n}/18)' for i, n in partial)}",
        f"  no_figure_found (with what was searched): {len(none)}: "
        + ", ".join(i for i, _ in none),
        f"IFRA specification standards: {len(specification)}: {', '.join(specification)}",
        "phototoxic (additive rule): "
        + ", ".join(s.id for s in catalogue.substances.values() if s.phototoxic),
        "EU Annex II/III entries: "
        + ", ".join(
            f"{s.id} ({len(s.eu_limits)})" for s in catalogue.substances.values() if s.eu_limits
        ),
        "CLP CMR: "
        + ", ".join(
            f"{s.id} ({s.cmr.classification})" for s in catalogue.substances.values() if s.cmr
        ),
        f"EU allergens: {sum(s.allergen is not None for s in catalogue.substances.values())} "
        f"({sum(bool(s.allergen and s.allergen.added_2023) for s in catalogue.substances.values())}"
        " added by Regulation (EU) 2023/1545)",
    ]


def main() -> None:
    for line in coverage_lines(load_catalogue()):
        print(line)


if __name__ == "__main__":
    main()

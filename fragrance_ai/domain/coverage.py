"""How complete the regulatory data is: `python -m fragrance_ai.domain.coverage`.

Counts, for the substances under an IFRA restriction or prohibition, how many carry a figure
for all 18 categories, how many for some, and how many record `no_figure_found` with what
was searched; and the EU entries, allergens and materials beside them.
"""

from __future__ import annotations

from collections import Counter

from fragrance_ai.domain.catalogue import Catalogue, IfraStandardType
from fragrance_ai.domain.catalogue_file import eu_merge, load_catalogue, load_ifra_overview
from fragrance_ai.domain.eu_register import Status
from fragrance_ai.domain.ifra_register import ifra_accounting, parse_ifra_overview
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
        f"substances under an EU Annex II or III entry: "
        f"{sum(bool(s.eu_limits) for s in catalogue.substances.values())}",
        "CLP CMR: "
        + ", ".join(
            f"{s.id} ({s.cmr.classification})" for s in catalogue.substances.values() if s.cmr
        ),
        f"EU allergens: {sum(s.allergen is not None for s in catalogue.substances.values())} "
        f"({sum(bool(s.allergen and s.allergen.added_2023) for s in catalogue.substances.values())}"
        " added by Regulation (EU) 2023/1545)",
    ]


def register_lines() -> list[str]:
    """What became of every IFRA Standard of the overview and every Annex II/III entry."""
    catalogue = load_catalogue()
    links = ifra_accounting(
        catalogue.substances.values(), parse_ifra_overview(load_ifra_overview())
    )
    outcomes = Counter(link.outcome.value for link in links)
    lines = [
        f"IFRA Standards of the overview: {len(links)}: "
        + ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items()))
    ]
    merge = eu_merge()
    for annex in ("II", "III"):
        accounts = [a for a in merge.accounts if a.annex == annex]
        by_status = Counter(a.status.value for a in accounts)
        lines.append(
            f"EU Annex {annex} entries read: {len(accounts)}: "
            + ", ".join(f"{status} {count}" for status, count in sorted(by_status.items()))
        )
        reasons = Counter(a.reason for a in accounts if a.status is not Status.ENCODED and a.reason)
        lines.extend(f"  {count:5d}  {reason[:110]}" for reason, count in reasons.most_common())
    return lines


def main() -> None:
    for line in (*coverage_lines(load_catalogue()), *register_lines()):
        print(line)


if __name__ == "__main__":
    main()

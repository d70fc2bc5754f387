"""The real catalogue with some IFRA figures withheld, for tests of what the engine does
when the data lacks a figure. Since every IFRA-restricted substance in the data now has its
full table, the gap is made here, on a copy, exactly as the data file would record it."""

from __future__ import annotations

from importlib import resources

import yaml

from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import (
    DATA_FILE,
    DATA_PACKAGE,
    load_ifra_overview,
    parse_catalogue,
)


def catalogue_withholding(*substance_ids: str) -> Catalogue:
    """The catalogue in which these substances' IFRA tables read `no_figure_found`."""
    text = resources.files(DATA_PACKAGE).joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    withheld = set(substance_ids)
    for substance in document["substances"]:
        if substance["id"] in withheld:
            substance["ifra"] = {"no_figure_found": "withheld by the test"}
            withheld.discard(substance["id"])
    assert not withheld, f"no such substances: {sorted(withheld)}"
    return parse_catalogue(
        yaml.safe_dump(document), source="withheld copy", ifra_overview=load_ifra_overview()
    )

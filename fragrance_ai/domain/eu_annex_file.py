"""Reads the packaged EU annex data for `catalogue_file.load_catalogue`: the Commission's
CosIng export (`data/regulatory/cosing/`, committed byte for byte with its provenance) and
the reviewed reading of it (`data/regulatory/eu_annex_iii.yaml`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fragrance_ai.domain.catalogue import CatalogueError
from fragrance_ai.domain.eu_register import AnnexEntry, parse_annex
from fragrance_ai.domain.yaml_text import parse_yaml

DATA_PACKAGE = "fragrance_ai"
COSING = ("data", "regulatory", "cosing")
REVIEWED = ("data", "regulatory", "eu_annex_iii.yaml")


@dataclass(frozen=True)
class EuAnnexes:
    annex_ii: tuple[AnnexEntry, ...]
    annex_iii: tuple[AnnexEntry, ...]
    # The reviewed file: product-type table, acts, exceptions, Annex III entries.
    encoded: dict[str, Any]


@functools.cache
def load_eu_annexes() -> EuAnnexes:
    root = resources.files(DATA_PACKAGE)
    cosing = root.joinpath(*COSING)
    encoded = parse_yaml(root.joinpath(*REVIEWED).read_text(encoding="utf-8"))
    if not isinstance(encoded, dict):
        raise CatalogueError("eu_annex_iii.yaml: expected a mapping")
    return EuAnnexes(
        annex_ii=parse_annex(cosing.joinpath("annex_II.csv").read_text(encoding="utf-8"), "II"),
        annex_iii=parse_annex(cosing.joinpath("annex_III.csv").read_text(encoding="utf-8"), "III"),
        encoded=encoded,
    )

"""Reads the packaged perfumery knowledge (`fragrance_ai/data/perfumery/*.yaml`: naturals and
aroma chemicals, one file each) into a KnowledgeBook, validating every row: a bad or missing
row stops the load with a message naming the material and the field."""

from __future__ import annotations

import functools
from enum import StrEnum
from importlib import resources
from typing import Any, TypeVar

from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.material_knowledge import (
    Base,
    Clash,
    Form,
    KnowledgeBook,
    MaterialKnowledge,
    MaterialKnowledgeError,
    OdourThreshold,
    Risk,
    Role,
    StabilityRisk,
    Strength,
)
from fragrance_ai.domain.yaml_text import parse_yaml

KNOWLEDGE_FILES = ("naturals.yaml", "aroma_chemicals.yaml")
# A source is a key of the file's `sources` or a citation long enough to be one.
_MIN_SOURCE_TEXT = 20
_ALLOWED_DILUTIONS = (100.0, 50.0, 10.0, 1.0, 0.1, 0.01)
_MAX_SUBSTANTIVITY_HOURS = 400.0

_E = TypeVar("_E", bound=StrEnum)


@functools.cache
def load_knowledge() -> KnowledgeBook:
    from fragrance_ai.domain.catalogue_file import load_catalogue

    folder = resources.files("fragrance_ai").joinpath("data", "perfumery")
    texts = {name: folder.joinpath(name).read_text(encoding="utf-8") for name in KNOWLEDGE_FILES}
    return parse_knowledge(texts, load_catalogue())


def parse_knowledge(texts: dict[str, str], catalogue: Catalogue) -> KnowledgeBook:
    """Every catalogue material must have exactly one row, under its own CAS and name."""
    rows: dict[str, MaterialKnowledge] = {}
    for file_name, text in texts.items():
        document = parse_yaml(text) or {}
        sources = document.get("sources") or {}
        if not isinstance(sources, dict):
            raise MaterialKnowledgeError(f"{file_name}: 'sources' must be a mapping")
        for index, raw in enumerate(document.get("materials") or []):
            row = _parse_row(raw, sources, f"{file_name}: materials[{index}]")
            if row.cas in rows:
                raise MaterialKnowledgeError(f"{file_name}: {row.name}: CAS {row.cas} twice")
            rows[row.cas] = row
    for material in catalogue:
        known = rows.get(material.cas)
        if known is None:
            raise MaterialKnowledgeError(
                f"{material.name} ({material.cas}) has no perfumery knowledge row"
            )
        if known.name != material.name:
            raise MaterialKnowledgeError(
                f"CAS {material.cas}: knowledge names {known.name!r}, catalogue {material.name!r}"
            )
    extra = sorted(set(rows) - {material.cas for material in catalogue})
    if extra:
        raise MaterialKnowledgeError(f"knowledge rows for materials not in the catalogue: {extra}")
    return KnowledgeBook(by_cas=rows)


def _parse_row(raw: Any, sources: dict[str, Any], where: str) -> MaterialKnowledge:
    if not isinstance(raw, dict):
        raise MaterialKnowledgeError(f"{where}: not a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise MaterialKnowledgeError(f"{where}: 'name' is required")
    where = f"{where} ({name})"
    cas = raw.get("cas")
    if not isinstance(cas, str):
        raise MaterialKnowledgeError(f"{where}: 'cas' is required")
    substantivity = _number(raw, "substantivity_hours", where)
    if not 0 < substantivity <= _MAX_SUBSTANTIVITY_HOURS:
        raise MaterialKnowledgeError(f"{where}: substantivity_hours must be in (0, 400]")
    dilution = _number(raw, "dilution", where)
    if dilution not in _ALLOWED_DILUTIONS:
        raise MaterialKnowledgeError(f"{where}: dilution must be one of {_ALLOWED_DILUTIONS}")
    roles = _members(Role, raw.get("roles"), "roles", where)
    if not roles:
        raise MaterialKnowledgeError(f"{where}: 'roles' needs at least one role")
    threshold = raw.get("odour_threshold")
    return MaterialKnowledge(
        cas=cas,
        name=name,
        strength=_member(Strength, raw.get("strength"), "strength", where),
        substantivity_hours=substantivity,
        roles=roles,
        working_dilution_percent=dilution,
        form=_member(Form, raw.get("form"), "form", where),
        clashes=_members(Clash, raw.get("clashes"), "clashes", where),
        stability=tuple(
            _parse_risk(risk, sources, f"{where}: stability[{i}]")
            for i, risk in enumerate(raw.get("stability") or [])
        ),
        source=_source(raw.get("source"), sources, where),
        uncertain=_flag(raw, "uncertain", where),
        odour_threshold=None if threshold is None else _parse_threshold(threshold, sources, where),
        nitro_musk=bool(raw.get("nitro_musk", False)),
        note=str(raw.get("note") or ""),
    )


def _parse_risk(raw: Any, sources: dict[str, Any], where: str) -> StabilityRisk:
    if not isinstance(raw, dict):
        raise MaterialKnowledgeError(f"{where}: not a mapping")
    bases = _members(Base, raw.get("bases"), "bases", where)
    if not bases:
        raise MaterialKnowledgeError(f"{where}: 'bases' needs at least one base")
    note = raw.get("note")
    if not isinstance(note, str) or not note:
        raise MaterialKnowledgeError(f"{where}: 'note' says what happens")
    return StabilityRisk(
        bases=bases,
        risk=_member(Risk, raw.get("risk"), "risk", where),
        note=note,
        source=_source(raw.get("source"), sources, where),
        uncertain=bool(raw.get("uncertain", True)),
    )


def _parse_threshold(raw: Any, sources: dict[str, Any], where: str) -> OdourThreshold:
    where = f"{where}: odour_threshold"
    if not isinstance(raw, dict):
        raise MaterialKnowledgeError(f"{where}: not a mapping")
    value = _number(raw, "ng_per_litre", where)
    if value <= 0:
        raise MaterialKnowledgeError(f"{where}: ng_per_litre must be positive")
    return OdourThreshold(
        ng_per_litre=value,
        source=_source(raw.get("source"), sources, where),
        uncertain=bool(raw.get("uncertain", True)),
    )


def _source(raw: Any, sources: dict[str, Any], where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise MaterialKnowledgeError(f"{where}: 'source' is required")
    if raw in sources:
        return str(sources[raw])
    if len(raw) < _MIN_SOURCE_TEXT:
        raise MaterialKnowledgeError(f"{where}: source {raw!r} is neither a key nor a citation")
    return raw


def _number(raw: dict[str, Any], field: str, where: str) -> float:
    value = raw.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MaterialKnowledgeError(f"{where}: {field!r} must be a number")
    return float(value)


def _flag(raw: dict[str, Any], field: str, where: str) -> bool:
    value = raw.get(field)
    if not isinstance(value, bool):
        raise MaterialKnowledgeError(f"{where}: {field!r} must be true or false")
    return value


def _member(kind: type[_E], raw: Any, field: str, where: str) -> _E:
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise MaterialKnowledgeError(f"{where}: {field} {raw!r} is not one of {allowed}") from None


def _members(kind: type[_E], raw: Any, field: str, where: str) -> tuple[_E, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MaterialKnowledgeError(f"{where}: {field!r} must be a list")
    return tuple(_member(kind, item, field, where) for item in raw)

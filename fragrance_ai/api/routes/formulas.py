from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session

from fragrance_ai.api.deps import CatalogueDep, DatabaseDep
from fragrance_ai.api.schemas import (
    FormulaCheckRequest,
    FormulaCheckResponse,
    FormulaLineView,
    FormulaPage,
    FormulaSummary,
    FormulaView,
    RepairChangeView,
    RepairView,
)
from fragrance_ai.db.models import Formula
from fragrance_ai.db.repositories import list_formulas, read_formula_document
from fragrance_ai.domain import formula as domain
from fragrance_ai.domain.catalogue import Catalogue, Ingredient, is_valid_cas
from fragrance_ai.domain.compliance import check_compliance
from fragrance_ai.domain.products import product_profile
from fragrance_ai.domain.repair import repair_formula

router = APIRouter(prefix="/v1/formulas", tags=["formulas"])


@router.get("", response_model=FormulaPage)
async def read_formulas(
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FormulaPage:
    rows, total = await database.run(
        lambda session: list_formulas(session, limit=limit, offset=offset)
    )
    return FormulaPage(
        items=[_summary(row) for row in rows], total=total, limit=limit, offset=offset
    )


@router.post("/check", response_model=FormulaCheckResponse)
async def check_formula(body: FormulaCheckRequest, catalogue: CatalogueDep) -> FormulaCheckResponse:
    """Checks a perfumer's own formula: IFRA limits at the product's dosage, EU allergen
    labelling, cost and pyramid, and with `repair: true` the nearest compliant formula.
    Pure computation on the loaded catalogue (well under a millisecond), so it runs on the
    event loop; nothing is stored."""
    formula = _domain_formula(body, catalogue)
    report = check_compliance(formula, catalogue)
    repair = None
    if body.repair:
        result = repair_formula(formula, catalogue)
        repaired = result.formula
        repair = RepairView(
            feasible=result.feasible,
            lines=None if repaired is None else _line_views(repaired),
            changes=[RepairChangeView.model_validate(c.model_dump()) for c in result.changes],
            reasons=result.reasons,
            moved_percent=round(result.moved_percent, 6),
            cost_per_kg_eur=None
            if repaired is None
            else domain.cost_per_kg_eur(repaired, catalogue),
            pyramid=None if repaired is None else _pyramid(repaired),
            compliance=result.report,
        )
    return FormulaCheckResponse(
        product=formula.product,
        dosage_percent=formula.dosage_percent,
        ifra_category=report.ifra_category,
        lines=_line_views(formula),
        cost_per_kg_eur=domain.cost_per_kg_eur(formula, catalogue),
        pyramid=_pyramid(formula),
        compliance=report,
        allergens_to_declare=report.allergens_to_declare,
        repair=repair,
    )


def _domain_formula(body: FormulaCheckRequest, catalogue: Catalogue) -> domain.Formula:
    """Resolves every line to a catalogue material; every line that does not resolve is
    named in one 422, at its own location."""
    errors: list[dict[str, object]] = []
    materials: list[Ingredient] = []
    seen: dict[str, int] = {}
    for index, line in enumerate(body.lines):
        material, field, problem = _resolve(line.name, line.cas, catalogue)
        if material is not None and material.cas in seen:
            field, problem = (
                "name" if line.name else "cas",
                (f"{material.name} is already line {seen[material.cas]}; give each material once"),
            )
            material = None
        if material is None:
            errors.append(
                {
                    "type": "unknown_material",
                    "loc": ("body", "lines", index, field),
                    "msg": problem,
                    "input": getattr(line, field),
                }
            )
            continue
        seen[material.cas] = index
        materials.append(material)
    if errors:
        raise RequestValidationError(errors)
    return domain.Formula(
        lines=[
            domain.FormulaLine(cas=m.cas, name=m.name, tier=m.tier, percent=line.percent)
            for m, line in zip(materials, body.lines, strict=True)
        ],
        product=body.product,
        dosage_percent=body.dosage_percent or product_profile(body.product).default_dosage_percent,
    )


def _resolve(
    name: str | None, cas: str | None, catalogue: Catalogue
) -> tuple[Ingredient | None, str, str]:
    if cas is not None:
        if not is_valid_cas(cas):
            return None, "cas", f"{cas!r} is not a valid CAS number (shape or check digit)"
        material = catalogue.find(cas) if cas.strip() in catalogue else None
        if material is None:
            return None, "cas", f"no material with CAS {cas} in the catalogue"
        if name is not None and catalogue.find(name) is not material:
            return None, "name", f"{name!r} is not the material with CAS {cas} ({material.name})"
        return material, "cas", ""
    assert name is not None  # the request model requires one of the two
    material = catalogue.find(name)
    if material is None:
        return None, "name", f"no material named {name!r} in the catalogue"
    return material, "name", ""


def _line_views(formula: domain.Formula) -> list[FormulaLineView]:
    return [
        FormulaLineView(name=line.name, cas=line.cas, tier=line.tier.value, percent=line.percent)
        for line in formula.lines
    ]


def _pyramid(formula: domain.Formula) -> dict[str, float]:
    return {tier.value: share for tier, share in formula.pyramid_shares().items()}


@router.get("/{formula_id}", response_model=FormulaView)
async def read_formula(formula_id: uuid.UUID, database: DatabaseDep) -> FormulaView:
    view = await database.run(lambda session: _formula_view(session, formula_id))
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no formula {formula_id}")
    return view


def _formula_view(session: Session, formula_id: uuid.UUID) -> FormulaView | None:
    document = read_formula_document(session, formula_id)
    return None if document is None else FormulaView.model_validate(document)


def _summary(row: Formula) -> FormulaSummary:
    return FormulaSummary(
        id=row.id,
        brief_id=row.brief_id,
        product=row.product,
        dosage_percent=row.dosage_percent,
        cost_per_kg_eur=row.cost_per_kg_eur,
        compliant=row.compliant,
        created_at=row.created_at,
    )

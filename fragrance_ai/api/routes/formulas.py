from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from fragrance_ai.api.deps import SessionDep
from fragrance_ai.api.schemas import FormulaLineView, FormulaPage, FormulaSummary, FormulaView
from fragrance_ai.db.models import Formula
from fragrance_ai.db.repositories import get_formula, list_formulas

router = APIRouter(prefix="/v1/formulas", tags=["formulas"])


@router.get("", response_model=FormulaPage)
def read_formulas(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FormulaPage:
    rows, total = list_formulas(session, limit=limit, offset=offset)
    return FormulaPage(
        items=[_summary(row) for row in rows], total=total, limit=limit, offset=offset
    )


@router.get("/{formula_id}", response_model=FormulaView)
def read_formula(formula_id: uuid.UUID, session: SessionDep) -> FormulaView:
    row = get_formula(session, formula_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no formula {formula_id}")
    return FormulaView(
        **_summary(row).model_dump(),
        parent_id=row.parent_id,
        designer=row.designer,
        lines=[
            FormulaLineView(name=line.name, cas=line.cas, tier=line.tier, percent=line.percent)
            for line in row.lines
        ],
        pyramid=row.pyramid,
        compliance=row.compliance,
        rationale=[str(reason) for reason in row.rationale],
    )


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

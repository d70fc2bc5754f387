from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy.orm import Session

from fragrance_ai.api.deps import DatabaseDep
from fragrance_ai.api.schemas import FormulaPage, FormulaSummary, FormulaView
from fragrance_ai.db.models import Formula
from fragrance_ai.db.repositories import list_formulas, read_formula_document

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

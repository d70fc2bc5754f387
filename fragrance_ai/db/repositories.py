"""Turns domain results into rows and back; the only place that knows both shapes."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from fragrance_ai.db.models import Formula, FormulaLine
from fragrance_ai.domain.designer import DesignedFormula


def save_designed_formula(
    session: Session,
    designed: DesignedFormula,
    *,
    designer: str,
    brief_id: uuid.UUID | None,
    job_id: uuid.UUID | None,
    parent_id: uuid.UUID | None = None,
) -> Formula:
    formula = designed.formula
    row = Formula(
        id=uuid.uuid4(),
        brief_id=brief_id,
        job_id=job_id,
        parent_id=parent_id,
        product=formula.product.value,
        dosage_percent=formula.dosage_percent,
        cost_per_kg_eur=round(designed.cost_per_kg_eur, 2),
        compliant=designed.compliance.compliant,
        compliance=designed.compliance.model_dump(mode="json"),
        pyramid={tier.value: share for tier, share in formula.pyramid_shares().items()},
        rationale=list(designed.rationale),
        designer=designer,
        lines=[
            FormulaLine(
                position=position,
                cas=line.cas,
                name=line.name,
                tier=line.tier.value,
                percent=line.percent,
            )
            for position, line in enumerate(formula.lines)
        ],
    )
    session.add(row)
    return row


def get_formula(session: Session, formula_id: uuid.UUID) -> Formula | None:
    statement = select(Formula).options(selectinload(Formula.lines)).where(Formula.id == formula_id)
    return session.scalars(statement).one_or_none()


def list_formulas(session: Session, *, limit: int, offset: int) -> tuple[list[Formula], int]:
    total = session.scalar(select(func.count()).select_from(Formula)) or 0
    statement = (
        select(Formula).order_by(Formula.created_at.desc(), Formula.id).limit(limit).offset(offset)
    )
    return list(session.scalars(statement)), total


def formula_ids_for_brief(session: Session, brief_id: uuid.UUID) -> list[uuid.UUID]:
    statement = select(Formula.id).where(Formula.brief_id == brief_id).order_by(Formula.created_at)
    return list(session.scalars(statement))

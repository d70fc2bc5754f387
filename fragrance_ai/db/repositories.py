"""Turns domain results into rows and back; the only place that knows both shapes."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from fragrance_ai.db.keyset import Cursor, Page, newest_first
from fragrance_ai.db.models import Formula, FormulaLine
from fragrance_ai.domain.catalogue import Tier
from fragrance_ai.domain.compliance import ComplianceReport
from fragrance_ai.domain.designer import DesignedFormula
from fragrance_ai.domain.formula import Formula as DomainFormula
from fragrance_ai.domain.formula import FormulaLine as DomainLine
from fragrance_ai.domain.products import ProductType

# The report is a plain dataclass; pydantic writes it as the JSON the API returns.
_REPORT = TypeAdapter(ComplianceReport)


def save_designed_formula(
    session: Session,
    designed: DesignedFormula,
    *,
    designer: str,
    brief_id: uuid.UUID | None,
    job_id: uuid.UUID | None,
    parent_id: uuid.UUID | None = None,
    scores: dict[str, float] | None = None,
    search: dict[str, Any] | None = None,
    formula_id: uuid.UUID | None = None,
    option_index: int | None = None,
) -> Formula:
    """`formula_id`: a key derived from what made the formula (a job and its option), so
    that the same work done twice cannot store it twice; random by default. `option_index`:
    its place among its design job's options."""
    formula = designed.formula
    row = Formula(
        id=formula_id or uuid.uuid4(),
        brief_id=brief_id,
        job_id=job_id,
        parent_id=parent_id,
        product=formula.product.value,
        dosage_percent=formula.dosage_percent,
        cost_per_kg_eur=round(designed.cost_per_kg_eur, 2),
        compliant=designed.compliance.compliant,
        compliance=_REPORT.dump_python(designed.compliance, mode="json"),
        pyramid={tier.value: share for tier, share in formula.pyramid_shares().items()},
        rationale=list(designed.rationale),
        designer=designer,
        scores=scores,
        search=search,
        option_index=option_index,
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


_formulas = Formula.__table__
_lines = FormulaLine.__table__
# Built once: constructing a statement costs more than running it against SQLite.
_FORMULA_BY_ID = select(_formulas).where(_formulas.c.id == bindparam("formula_id"))
_LINES_OF_FORMULA = (
    select(_lines.c.name, _lines.c.cas, _lines.c.tier, _lines.c.percent)
    .where(_lines.c.formula_id == bindparam("formula_id"))
    .order_by(_lines.c.position)
)


def read_formula_document(session: Session, formula_id: uuid.UUID) -> dict[str, Any] | None:
    """A formula and its lines as plain data, for reading only.

    Core queries instead of ORM objects: this is the hottest read in the API, and skipping
    the identity map and relationship loading makes it several times cheaper.
    """
    parameters = {"formula_id": formula_id}
    formula = session.execute(_FORMULA_BY_ID, parameters).mappings().one_or_none()
    if formula is None:
        return None
    lines = [
        {"name": name, "cas": cas, "tier": tier, "percent": percent}
        for name, cas, tier, percent in session.execute(_LINES_OF_FORMULA, parameters)
    ]
    return {**formula, "lines": lines}


def list_formulas(
    session: Session, *, limit: int, after: Cursor | None = None, offset: int = 0
) -> Page[Formula]:
    return newest_first(session, Formula, limit=limit, after=after, offset=offset)


# Oldest first; a job's options, stored in one commit, in the order the design gave them.
IN_DESIGN_ORDER = (Formula.created_at, Formula.option_index, Formula.id)


def formulas_for_brief(session: Session, brief_id: uuid.UUID) -> list[Formula]:
    statement = select(Formula).where(Formula.brief_id == brief_id).order_by(*IN_DESIGN_ORDER)
    return list(session.scalars(statement))


def as_domain_formula(row: Formula) -> DomainFormula:
    return DomainFormula(
        lines=[
            DomainLine(cas=line.cas, name=line.name, tier=Tier(line.tier), percent=line.percent)
            for line in row.lines
        ],
        product=ProductType(row.product),
        dosage_percent=row.dosage_percent,
    )

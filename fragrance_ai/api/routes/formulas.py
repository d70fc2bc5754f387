from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import BeforeValidator, Field, TypeAdapter
from sqlalchemy.orm import Session
from starlette.datastructures import State

from fragrance_ai.api.deps import CatalogueDep, Database, DatabaseDep
from fragrance_ai.api.formula_lines import formula_view, line_views
from fragrance_ai.api.http_cache import (
    CONDITIONAL_RESPONSES,
    IMMUTABLE,
    Rendered,
    RenderedStore,
    answer,
    rendered,
)
from fragrance_ai.api.middleware.auth import READ_OR_WRITE
from fragrance_ai.api.paging import CursorQuery, LimitQuery, OffsetQuery, page_start
from fragrance_ai.api.printable import certificate_html, declaration_html, weigh_out_html
from fragrance_ai.api.schemas.design import (
    FormulaCheckRequest,
    FormulaCheckResponse,
    FormulaLineView,
    FormulaPage,
    FormulaSummary,
    FormulaView,
    RepairChangeView,
    RepairView,
    WeighOutView,
)
from fragrance_ai.db.models import Formula
from fragrance_ai.db.repositories import list_formulas, read_formula_document
from fragrance_ai.domain import formula as domain
from fragrance_ai.domain.catalogue import Catalogue, Ingredient
from fragrance_ai.domain.certificate import (
    AllergenDeclaration,
    IfraCertificate,
    allergen_declaration,
    ifra_certificate,
)
from fragrance_ai.domain.compliance import check_compliance
from fragrance_ai.domain.declared_formula import (
    CheckedFormula,
    DeclaredFormulaInvalid,
    DeclaredLine,
    read_declared_formula,
)
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.repair import repair_formula
from fragrance_ai.domain.weigh_out import weigh_out
from fragrance_ai.platform.metrics import COMPLIANCE_VERDICTS

router = APIRouter(prefix="/v1/formulas", tags=["formulas"], dependencies=[READ_OR_WRITE])

# Documents come as JSON, or as a printable HTML page with `?format=html`.
DocumentFormat = Literal["json", "html"]


@dataclass(frozen=True)
class FormulaReads:
    """The rendered formulas of one app, and the database they come from."""

    rendered: RenderedStore[uuid.UUID]
    database: Database


# Some ten thousand formulas of a few kilobytes each stay rendered.
_RENDERED_FORMULAS_MAX_ENTRIES = 10_000
_RENDERED_FORMULAS_MAX_BYTES = 64 * 2**20


def formula_reads(state: State) -> FormulaReads:
    """The app's, made on the first read. Not a dependency: each one FastAPI resolves costs
    the hot path more than the answer itself."""
    reads: FormulaReads | None = getattr(state, "formula_reads", None)
    if reads is None:
        store: RenderedStore[uuid.UUID] = RenderedStore(
            max_entries=_RENDERED_FORMULAS_MAX_ENTRIES, max_bytes=_RENDERED_FORMULAS_MAX_BYTES
        )
        reads = FormulaReads(rendered=store, database=Database(state.runtime.sessions))
        state.formula_reads = reads
    return reads


# The bytes FastAPI would write for `response_model=FormulaView`: the same pydantic
# serializer, by alias, straight to JSON.
_FORMULA_JSON = TypeAdapter(FormulaView)


def _rendered_formula(
    session: Session, formula_id: uuid.UUID, catalogue: Catalogue
) -> Rendered | None:
    document = read_formula_document(session, formula_id)
    if document is None:
        return None
    view = formula_view(document, catalogue)
    return rendered(_FORMULA_JSON.dump_json(view, by_alias=True), IMMUTABLE)


@router.get("/{formula_id}", response_model=FormulaView, responses=CONDITIONAL_RESPONSES)
async def read_formula(formula_id: uuid.UUID, request: Request) -> Response:
    """A stored formula never changes: its JSON is rendered on the first read and answered
    from memory afterwards, with a strong ETag (304 to a matching If-None-Match). First in
    the router: routes are matched in order, and this is the most read."""
    reads = formula_reads(request.app.state)
    found = reads.rendered.get(formula_id)
    if found is None:
        catalogue = request.app.state.runtime.catalogue
        found = await reads.database.run(
            lambda session: _rendered_formula(session, formula_id, catalogue)
        )
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no formula {formula_id}")
        reads.rendered.put(formula_id, found)
    request.app.state.rendered_reads.remember(request.scope, found)
    return answer(request, found)


@router.get("", response_model=FormulaPage)
async def read_formulas(
    database: DatabaseDep,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
    offset: OffsetQuery = 0,
) -> FormulaPage:
    """Stored formulas, newest first. Walk the list with `next_cursor`."""
    after = page_start(cursor, offset)
    page = await database.run(
        lambda session: list_formulas(session, limit=limit, after=after, offset=offset)
    )
    return FormulaPage(
        items=[_summary(row) for row in page.rows],
        total=page.total,
        limit=limit,
        offset=offset,
        next_cursor=page.next_cursor,
    )


@router.post("/check", response_model=FormulaCheckResponse)
async def check_formula(body: FormulaCheckRequest, catalogue: CatalogueDep) -> FormulaCheckResponse:
    """Checks a perfumer's own formula: IFRA and EU limits at the product's dosage, the
    verdict with its reasons, allergen labelling, cost and pyramid, and with `repair: true`
    the nearest compliant formula. Pure computation on the loaded catalogue (well under a
    millisecond), so it runs on the event loop; nothing is stored."""
    checked = _checked_formula(body, catalogue)
    formula = checked.formula
    report = check_compliance(
        formula,
        catalogue,
        own_materials=checked.own,
        unassessable=checked.unassessable,
        as_of=body.as_of or date.today(),
    )
    COMPLIANCE_VERDICTS.labels("check", report.verdict.value).inc()
    repair = None
    if body.repair:
        result = repair_formula(formula, catalogue, own_materials=checked.own)
        COMPLIANCE_VERDICTS.labels("repair", result.report.verdict.value).inc()
        repaired = result.formula
        repair = RepairView(
            feasible=result.feasible,
            lines=None if repaired is None else _line_views(repaired, catalogue),
            changes=[RepairChangeView.model_validate(c.model_dump()) for c in result.changes],
            reasons=result.reasons,
            moved_percent=round(result.moved_percent, 6),
            cost_per_kg_eur=None if repaired is None else _cost(repaired, catalogue),
            pyramid=None if repaired is None else _pyramid(repaired),
            compliance=result.report,
        )
    return FormulaCheckResponse(
        product=formula.product,
        dosage_percent=formula.dosage_percent,
        ifra_category=report.ifra_category,
        lines=_line_views(formula, catalogue),
        cost_per_kg_eur=_cost(formula, catalogue),
        pyramid=_pyramid(formula),
        compliance=report,
        allergens_to_declare=report.allergens_to_declare,
        repair=repair,
    )


@router.post("/check/ifra-certificate", response_model=IfraCertificate)
async def certify_checked_formula(
    body: FormulaCheckRequest, catalogue: CatalogueDep, format: DocumentFormat = "json"
) -> IfraCertificate | HTMLResponse:
    """The IFRA certificate of a perfumer's own concentrate: for every IFRA category, the
    most of it a finished product may hold and the substance that limits it."""
    checked = _checked_formula(body, catalogue)
    title = body.title or "Concentrate checked on request"
    return _certificate(
        checked.formula, catalogue, title, format, own=checked.own, as_of=body.as_of
    )


@router.post("/check/allergen-declaration", response_model=AllergenDeclaration)
async def declare_checked_formula(
    body: FormulaCheckRequest, catalogue: CatalogueDep, format: DocumentFormat = "json"
) -> AllergenDeclaration | HTMLResponse:
    """Every EU allergen of a perfumer's own formula with its INCI name, its level in the
    concentrate and in the finished product, and whether the label must name it."""
    checked = _checked_formula(body, catalogue)
    title = body.title or "Checked formula"
    return _declaration(checked.formula, catalogue, title, format, own=checked.own)


@router.get("/{formula_id}/ifra-certificate", response_model=IfraCertificate)
async def certify_formula(
    formula_id: uuid.UUID,
    database: DatabaseDep,
    catalogue: CatalogueDep,
    format: DocumentFormat = "json",
) -> IfraCertificate | HTMLResponse:
    """The IFRA certificate of a stored formula's concentrate."""
    formula = await _stored_formula(database, formula_id)
    return _certificate(formula, catalogue, f"Formula {formula_id}", format)


@router.get("/{formula_id}/allergen-declaration", response_model=AllergenDeclaration)
async def declare_formula(
    formula_id: uuid.UUID,
    database: DatabaseDep,
    catalogue: CatalogueDep,
    format: DocumentFormat = "json",
) -> AllergenDeclaration | HTMLResponse:
    """The allergen declaration of a stored formula, in its product at its dosage."""
    formula = await _stored_formula(database, formula_id)
    return _declaration(formula, catalogue, f"Formula {formula_id}", format)


def _blank_is_none(value: object) -> object:
    """An empty field of a plain HTML form (`?dilution_percent=`) means "not given"."""
    return None if value == "" else value


@router.get("/{formula_id}/weigh-out", response_model=WeighOutView)
async def weigh_out_formula(
    formula_id: uuid.UUID,
    database: DatabaseDep,
    batch_g: Annotated[
        float,
        Query(
            ge=0.001,
            le=100_000,
            description="Finished product to make, grams: from 1 mg (a balance's last "
            "digit) to 100 kg.",
        ),
    ] = 100,
    dilution_percent: Annotated[
        Annotated[float, Field(gt=0, le=100)] | None,
        BeforeValidator(_blank_is_none),
        Query(
            description="Concentrate in the product, percent; the formula's own dosage when "
            "omitted or empty, 100 for the neat concentrate.",
        ),
    ] = None,
    format: DocumentFormat = "json",
) -> WeighOutView | HTMLResponse:
    """The weigh-out sheet of a stored formula: grams per material in weighing order (base,
    heart, top; the largest amount first within a tier) with the balance's running total,
    then the solvent. The lines sum to the concentrate to the milligram."""
    formula = await _stored_formula(database, formula_id)
    sheet = weigh_out(formula, batch_g, dilution_percent)
    if format == "html":
        return HTMLResponse(weigh_out_html(sheet, formula, f"Formula {formula_id}"))
    return WeighOutView.model_validate({"formula_id": formula_id, **sheet.model_dump()})


def _certificate(
    formula: domain.Formula,
    catalogue: Catalogue,
    title: str,
    format: DocumentFormat,
    *,
    own: dict[str, Ingredient] | None = None,
    as_of: date | None = None,
) -> IfraCertificate | HTMLResponse:
    today = date.today()
    certificate = ifra_certificate(
        formula,
        catalogue,
        issued_on=today,
        title=title,
        own_materials=own,
        as_of=as_of or today,
    )
    if format == "html":
        return HTMLResponse(certificate_html(certificate, formula))
    return certificate


def _declaration(
    formula: domain.Formula,
    catalogue: Catalogue,
    title: str,
    format: DocumentFormat,
    *,
    own: dict[str, Ingredient] | None = None,
) -> AllergenDeclaration | HTMLResponse:
    declaration = allergen_declaration(formula, catalogue, own_materials=own)
    if format == "html":
        return HTMLResponse(declaration_html(declaration, title))
    return declaration


async def _stored_formula(database: Database, formula_id: uuid.UUID) -> domain.Formula:
    document = await database.run(lambda session: read_formula_document(session, formula_id))
    if document is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no formula {formula_id}")
    return domain.Formula(
        lines=[domain.FormulaLine.model_validate(line) for line in document["lines"]],
        product=ProductType(document["product"]),
        dosage_percent=document["dosage_percent"],
    )


def _checked_formula(body: FormulaCheckRequest, catalogue: Catalogue) -> CheckedFormula:
    """The request's formula read against the catalogue; every malformed line is named in
    one 422, each at its own location."""
    lines = [
        DeclaredLine(
            name=line.name,
            cas=line.cas,
            percent=line.percent,
            composition=(
                [(constituent.cas, constituent.percent) for constituent in line.composition]
                if isinstance(line.composition, list)
                else line.composition
            ),
            tier=line.tier,
        )
        for line in body.lines
    ]
    try:
        return read_declared_formula(lines, body.product, body.dosage_percent, catalogue)
    except DeclaredFormulaInvalid as invalid:
        raise RequestValidationError(
            [
                {
                    "type": problem.kind,
                    "loc": ("body", problem.field)
                    if problem.line is None
                    else ("body", "lines", problem.line, problem.field),
                    "msg": problem.message,
                    "input": problem.value,
                }
                for problem in invalid.problems
            ]
        ) from invalid


def _cost(formula: domain.Formula, catalogue: Catalogue) -> float:
    """Cost per kg of the catalogue lines; the perfumer's own materials have no price."""
    known = [line for line in formula.lines if line.cas in catalogue]
    return domain.cost_per_kg_eur(formula.model_copy(update={"lines": known}), catalogue)


def _line_views(formula: domain.Formula, catalogue: Catalogue) -> list[FormulaLineView]:
    return line_views(formula.lines, formula.product, catalogue)


def _pyramid(formula: domain.Formula) -> dict[str, float]:
    return {tier.value: share for tier, share in formula.pyramid_shares().items()}


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

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fragrance_ai.api.deps import CatalogueDep, DatabaseDep, RuntimeDep
from fragrance_ai.api.middleware.auth import READ_OR_WRITE
from fragrance_ai.api.middleware.back_pressure import LLM_QUEUE_HAS_ROOM
from fragrance_ai.api.schemas.design import (
    BriefCorrection,
    BriefOption,
    BriefRequest,
    BriefRound,
    BriefView,
    BriefVocabulary,
    JobAccepted,
    Links,
)
from fragrance_ai.api.schemas.training import Problem
from fragrance_ai.db.models import Brief, Formula, JobStatus, VariationSet
from fragrance_ai.db.repositories import formulas_for_brief
from fragrance_ai.db.training import choice_for
from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.brief_correction import BriefEdits, correct_brief, vocabulary
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.products import ProductType
from fragrance_ai.jobs.submit import BriefSubmission, NoSuchBrief, NotQueued, accept_brief

router = APIRouter(prefix="/v1/briefs", tags=["briefs"], dependencies=[READ_OR_WRITE])


@router.get("/vocabulary", response_model=BriefVocabulary)
async def read_vocabulary(catalogue: CatalogueDep) -> BriefVocabulary:
    """The families, moods, seasons and intensities a corrected brief may name."""
    return BriefVocabulary(**vocabulary(catalogue))


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    dependencies=[LLM_QUEUE_HAS_ROOM],
    responses={404: {"model": Problem, "description": "`revises` names no brief."}},
)
async def submit_brief(
    request: BriefRequest, database: DatabaseDep, runtime: RuntimeDep, response: Response
) -> JobAccepted:
    corrected = None
    if request.corrected is not None:
        corrected = _corrected_brief(runtime.catalogue, request, request.corrected)
    submission = BriefSubmission(
        text=request.text,
        mode=request.mode or runtime.settings.llm.default_mode,
        product=request.product,
        dosage_percent=request.dosage_percent,
        seed=request.seed,
        revises=request.revises,
        corrected=corrected,
    )
    try:
        brief_id, job_id = await database.run(
            lambda session: accept_brief(session, runtime, submission)
        )
    except NoSuchBrief as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(error)) from error
    except NotQueued as error:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"the job queue is unavailable; brief {error.saved_id} was saved, retry later",
        ) from error
    job_url = f"/v1/jobs/{job_id}"
    response.headers["Location"] = job_url
    return JobAccepted(
        job_id=job_id,
        brief_id=brief_id,
        status=JobStatus.QUEUED,
        links=Links(self=job_url, job=job_url, brief=f"/v1/briefs/{brief_id}"),
    )


def _corrected_brief(
    catalogue: Catalogue, request: BriefRequest, edits: BriefCorrection
) -> CreativeBrief:
    brief, problems = correct_brief(
        catalogue,
        request.text,
        request.product or ProductType.EDP,
        BriefEdits(**edits.model_dump()),
    )
    if brief is None:
        raise RequestValidationError(
            [
                {
                    "type": "unknown_word",
                    "loc": ("body", "corrected", problem.field, problem.index),
                    "msg": problem.message,
                    "input": problem.value,
                }
                for problem in problems
            ]
        )
    return brief


@router.get("/{brief_id}", response_model=BriefView)
async def read_brief(brief_id: uuid.UUID, database: DatabaseDep) -> BriefView:
    view = await database.run(lambda session: _brief_view(session, brief_id))
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no brief {brief_id}")
    return view


def _brief_view(session: Session, brief_id: uuid.UUID) -> BriefView | None:
    brief = session.get(Brief, brief_id)
    if brief is None:
        return None
    rows = formulas_for_brief(session, brief.id)
    return BriefView(
        id=brief.id,
        text=brief.text,
        mode=brief.mode,
        requested_product=brief.requested_product,
        requested_dosage_percent=brief.requested_dosage_percent,
        seed=brief.seed,
        parsed=brief.parsed,
        parser=brief.parser,
        reading=brief.reading,
        formula_ids=[row.id for row in rows],
        options=[
            BriefOption(
                formula_id=row.id,
                parent_id=row.parent_id,
                designer=row.designer,
                cost_per_kg_eur=row.cost_per_kg_eur,
                compliant=row.compliant,
                scores=row.scores,
            )
            for row in rows
        ],
        rounds=_rounds(session, brief, rows),
        revises=(brief.reading or {}).get("revises"),
        suggestions=brief.suggestions,
        created_at=brief.created_at,
    )


def _rounds(session: Session, brief: Brief, rows: list[Formula]) -> list[BriefRound]:
    options = [row for row in rows if row.parent_id is None]
    if not options:
        return []
    brief_choice = choice_for(session, variation_set_id=None, brief_id=brief.id)
    rounds = [
        BriefRound(
            kind="options",
            formula_ids=[row.id for row in options],
            chosen_id=None if brief_choice is None else brief_choice.chosen_formula_id,
            created_at=options[0].created_at,
        )
    ]
    sets = session.scalars(
        select(VariationSet)
        .where(VariationSet.parent_formula_id.in_([row.id for row in rows]))
        .order_by(VariationSet.created_at)
    )
    for variation_set in sets:
        choice = choice_for(session, variation_set_id=variation_set.id, brief_id=None)
        rounds.append(
            BriefRound(
                kind="variations",
                variation_set_id=variation_set.id,
                parent_id=variation_set.parent_formula_id,
                formula_ids=[member.formula_id for member in variation_set.members],
                chosen_id=None if choice is None else choice.chosen_formula_id,
                created_at=variation_set.created_at,
            )
        )
    return rounds

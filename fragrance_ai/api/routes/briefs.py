from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter, HTTPException, Response, status
from sqlalchemy.orm import Session

from fragrance_ai.api.deps import DatabaseDep, RuntimeDep
from fragrance_ai.api.schemas import BriefOption, BriefRequest, BriefView, JobAccepted, Links
from fragrance_ai.db.models import Brief, Job, JobKind, JobStatus
from fragrance_ai.db.repositories import formulas_for_brief
from fragrance_ai.jobs import parse_brief
from fragrance_ai.queue import QueueName
from fragrance_ai.queue.base import QueueUnavailable
from fragrance_ai.runtime import Runtime

router = APIRouter(prefix="/v1/briefs", tags=["briefs"])
log = logging.getLogger(__name__)


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted)
async def submit_brief(
    request: BriefRequest, database: DatabaseDep, runtime: RuntimeDep, response: Response
) -> JobAccepted:
    brief_id, job_id = await database.run(lambda session: _accept(session, runtime, request))
    job_url = f"/v1/jobs/{job_id}"
    response.headers["Location"] = job_url
    return JobAccepted(
        job_id=job_id,
        brief_id=brief_id,
        status=JobStatus.QUEUED,
        links=Links(self=job_url, job=job_url, brief=f"/v1/briefs/{brief_id}"),
    )


def _accept(
    session: Session, runtime: Runtime, request: BriefRequest
) -> tuple[uuid.UUID, uuid.UUID]:
    mode = request.mode or runtime.settings.llm.default_mode
    brief = Brief(
        id=uuid.uuid4(),
        text=request.text,
        mode=mode.value,
        requested_product=request.product.value if request.product else None,
    )
    job = Job(id=uuid.uuid4(), kind=JobKind.DESIGN_FROM_BRIEF.value, brief_id=brief.id)
    session.add_all([brief, job])
    # Committed before it is enqueued: a worker must find the row, and the brief is kept
    # even when the queue then refuses the work.
    session.commit()
    try:
        runtime.queue.enqueue(QueueName.LLM_INFERENCE, parse_brief, str(job.id))
    except QueueUnavailable as error:
        job.status = JobStatus.FAILED.value
        job.error = f"could not enqueue: {error}"
        session.commit()
        log.error("job %s not enqueued: %s", job.id, error)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"the job queue is unavailable; brief {brief.id} was saved, retry later",
        ) from error
    return brief.id, job.id


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
        parsed=brief.parsed,
        parser=brief.parser,
        reading=brief.reading,
        formula_ids=[row.id for row in rows],
        options=[
            BriefOption(
                formula_id=row.id,
                designer=row.designer,
                cost_per_kg_eur=row.cost_per_kg_eur,
                compliant=row.compliant,
                scores=row.scores,
            )
            for row in rows
        ],
        created_at=brief.created_at,
    )

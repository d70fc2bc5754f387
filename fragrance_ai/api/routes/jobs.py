from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status
from sqlalchemy.orm import Session

from fragrance_ai.api.deps import DatabaseDep
from fragrance_ai.api.middleware.auth import READ_OR_WRITE
from fragrance_ai.api.schemas.design import JobView
from fragrance_ai.db.models import Job, JobKind, JobStatus
from fragrance_ai.jobs.results import read_stored

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], dependencies=[READ_OR_WRITE])


# Unset result fields are left out, as the step stored them (jobs/results.py `stored`).
@router.get("/{job_id}", response_model=JobView, response_model_exclude_unset=True)
async def read_job(job_id: uuid.UUID, database: DatabaseDep) -> JobView:
    view = await database.run(lambda session: _job_view(session, job_id))
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no job {job_id}")
    return view


def _job_view(session: Session, job_id: uuid.UUID) -> JobView | None:
    job = session.get(Job, job_id)
    if job is None:
        return None
    return JobView(
        id=job.id,
        kind=JobKind(job.kind),
        status=JobStatus(job.status),
        stage=job.stage,
        progress=job.progress,
        result=read_stored(job.kind, job.result),
        error=job.error,
        attempts=job.attempts,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )

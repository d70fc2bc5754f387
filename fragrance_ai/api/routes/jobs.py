from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status

from fragrance_ai.api.deps import SessionDep
from fragrance_ai.api.schemas import JobView
from fragrance_ai.db.models import Job, JobStatus

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobView)
def read_job(job_id: uuid.UUID, session: SessionDep) -> JobView:
    job = session.get(Job, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no job {job_id}")
    return JobView(
        id=job.id,
        kind=job.kind,
        status=JobStatus(job.status),
        stage=job.stage,
        progress=job.progress,
        result=job.result,
        error=job.error,
        attempts=job.attempts,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )

from __future__ import annotations

import logging

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from fragrance_ai.api.deps import RuntimeDep
from fragrance_ai.db.migrate import is_up_to_date
from fragrance_ai.metrics import QUEUE_DEPTH, render_metrics
from fragrance_ai.queue.base import QueueUnavailable

router = APIRouter(tags=["operations"])
log = logging.getLogger(__name__)


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive; touches nothing else, so a slow database never kills it."""
    return {"status": "ok"}


@router.get("/ready")
def ready(runtime: RuntimeDep) -> JSONResponse:
    """Ready to serve: database reachable and migrated, queue reachable. 503 names what is not."""
    checks: dict[str, str] = {}
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks["migrations"] = "ok" if is_up_to_date(runtime.engine) else "pending"
    except SQLAlchemyError as error:
        checks["database"] = f"unreachable: {type(error).__name__}"
        checks["migrations"] = "unknown"
    try:
        runtime.queue.ping()
        checks["queue"] = "ok"
    except QueueUnavailable as error:
        checks["queue"] = f"unreachable: {error}"
    failing = sorted(name for name, state in checks.items() if state != "ok")
    body: dict[str, object] = {
        "status": "ready" if not failing else "unavailable",
        "checks": checks,
    }
    if failing:
        body["failing"] = failing
        log.warning("not ready: %s", checks)
        return JSONResponse(body, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    return JSONResponse(body)


@router.get("/metrics", include_in_schema=False)
def metrics(runtime: RuntimeDep) -> Response:
    try:
        for queue, depth in runtime.queue.depth().items():
            QUEUE_DEPTH.labels(queue=queue.value).set(depth)
    except QueueUnavailable:
        log.warning("queue depth unavailable for /metrics")
    payload, content_type = render_metrics()
    return Response(payload, media_type=content_type)

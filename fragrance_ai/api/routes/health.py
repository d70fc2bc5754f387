from __future__ import annotations

import logging

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse

from fragrance_ai.api.deps import RuntimeDep
from fragrance_ai.api.readiness import dependency_checks, failing
from fragrance_ai.platform.metrics import QUEUE_DEPTH, QUEUE_OLDEST_JOB_AGE, render_metrics
from fragrance_ai.queue.base import QueueUnavailable

router = APIRouter(tags=["operations"])
log = logging.getLogger(__name__)


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive; touches nothing else, so a slow database never kills it."""
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={
        503: {
            "description": "Not ready: the same body, with `failing` naming what is not.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def ready(runtime: RuntimeDep) -> JSONResponse:
    """Ready to serve: database reachable and migrated, queue reachable. 503 names what is not.
    With in-process workers, `models` says which readers have loaded."""
    checks = dependency_checks(runtime, migrations=True)
    failing_parts = failing(checks)
    body: dict[str, object] = {
        "status": "unavailable" if failing_parts else "ready",
        "checks": checks,
    }
    # Worker threads in this process (the embedded default): which readers have loaded.
    # Loading is not failing: briefs are read meanwhile without them. RQ workers answer the
    # same on their own /ready.
    ensemble = runtime.loaded_ensemble()
    if ensemble is not None:
        body["models"] = ensemble.model_states()
    if failing_parts:
        body["failing"] = failing_parts
        log.warning("not ready: %s", checks)
        return JSONResponse(body, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    return JSONResponse(body)


@router.get("/metrics", include_in_schema=False)
def metrics(runtime: RuntimeDep) -> Response:
    try:
        for queue, depth in runtime.queue.depth().items():
            QUEUE_DEPTH.labels(queue=queue.value).set(depth)
        for queue, waited_s in runtime.queue.oldest_wait_s().items():
            QUEUE_OLDEST_JOB_AGE.labels(queue=queue.value).set(waited_s)
    except QueueUnavailable:
        log.warning("queue depth and job age unavailable for /metrics")
    payload, content_type = render_metrics()
    return Response(payload, media_type=content_type)

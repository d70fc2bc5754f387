"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI

from fragrance_ai.api.active_models import ActiveModels
from fragrance_ai.api.middleware.guards import install_request_guards
from fragrance_ai.api.middleware.method_not_allowed import install_method_guards
from fragrance_ai.api.middleware.metrics import MetricsMiddleware
from fragrance_ai.api.middleware.rendered_reads import AnswerRenderedReads, RenderedReads
from fragrance_ai.api.middleware.request_id import RequestIdMiddleware
from fragrance_ai.api.openapi.document import install_openapi
from fragrance_ai.api.routes import (
    briefs,
    feedback,
    formulas,
    health,
    ingredients,
    jobs,
    policies,
    taste,
    training_runs,
    variations,
)
from fragrance_ai.platform.logs import configure_logging
from fragrance_ai.platform.systemd import HealthNotifier, event_loop_answers
from fragrance_ai.runtime import Runtime, build_runtime, install_runtime
from fragrance_ai.settings import load_settings
from fragrance_ai.web.routes import install_workbench

log = logging.getLogger(__name__)


def create_app(runtime: Runtime | None = None) -> FastAPI:
    """Builds the app around `runtime`, or one built from the environment (uvicorn's factory)."""
    owns_runtime = runtime is None
    if runtime is None:
        settings = load_settings()
        configure_logging(settings)
        runtime = build_runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Job functions running in this process (the embedded queue) find the same runtime.
        install_runtime(runtime)
        # Under systemd: ready once the event loop serves, alive while it answers. The
        # database and the queue are /ready's business: an outage answers 503 there and
        # recovers with them, instead of a watchdog restart that cannot end it.
        notifier = HealthNotifier(event_loop_answers(asyncio.get_running_loop())).start()
        yield
        notifier.stop()
        if owns_runtime:
            runtime.close()

    app = FastAPI(
        title="Fragrance AI",
        # pyproject.toml's, the one place a release sets it.
        version=version("fragrance-ai"),
        summary="Creative briefs in, safe and costed fragrance formulas out.",
        lifespan=lifespan,
        # FastAPI's OpenTelemetry bridge, off: the service exports Prometheus metrics and
        # configures no OpenTelemetry provider, and looking for one (environment reads)
        # cost every request about a fifth of a remembered read.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.runtime = runtime
    # Loaded on the first variations request, and again whenever another policy is active.
    app.state.active_models = ActiveModels(runtime.settings.policies_root)
    # Innermost, inside every guard: a GET answered before from rendered JSON is answered
    # again without routing (middleware/rendered_reads.py).
    app.state.rendered_reads = RenderedReads()
    app.add_middleware(AnswerRenderedReads, reads=app.state.rendered_reads)
    install_request_guards(app, runtime)
    # Outside the guards: their refusals are counted too.
    app.add_middleware(MetricsMiddleware)
    # Outermost of all: every line logged for a request, a guard's refusal too, carries its id.
    app.add_middleware(RequestIdMiddleware)
    # Routes are matched in this order, one by one: the most read come first.
    for router in (
        health.router,
        formulas.router,
        ingredients.router,
        briefs.router,
        jobs.router,
        variations.router,
        feedback.router,
        training_runs.router,
        policies.router,
        taste.router,
    ):
        app.include_router(router)
    # The perfumer's workbench, a page of this same process: nothing else to install.
    install_workbench(app)
    # The contract: every answer declared (openapi_document), every other method a 405.
    install_openapi(app, runtime)
    install_method_guards(app)
    return app

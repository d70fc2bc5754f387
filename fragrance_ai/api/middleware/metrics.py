"""Counts and times every request by its route template (never the raw path: ids would
explode the label set)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fragrance_ai.platform.metrics import HTTP_LATENCY, HTTP_REQUESTS


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The labelled series of each (route, method, status) seen: `labels()` checks its
        # arguments and takes a lock on every call, a good part of what recording costs.
        # Bounded by the routes times methods times status codes the app answers.
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_and_record_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            key = (template, scope["method"], status_code)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = self._labelled(*key)
            requests, latency = series
            requests.inc()
            latency.observe(time.perf_counter() - started)

    @staticmethod
    def _labelled(template: str, method: str, status_code: int) -> tuple[Counter, Histogram]:
        return (
            HTTP_REQUESTS.labels(route=template, method=method, status=str(status_code)),
            HTTP_LATENCY.labels(route=template, method=method),
        )

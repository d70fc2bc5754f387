"""405 Method Not Allowed, with an Allow header naming every method the path serves.

Starlette answers a method a route does not serve from the first route whose path matches,
so its Allow names that route's methods only (POST for /v1/training-runs, whose GET is
another route), StaticFiles' 405 has no Allow at all, and a literal path that a path
parameter also matches (GET /v1/formulas/check, read as /v1/formulas/{formula_id}) is
answered 422 for a malformed id instead of 405. Guards for every path answer instead:
literal paths and mounts first (a mount takes every method of everything under it), so
they win over parameters; parameter paths last, so any real route wins over them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount, Route

# What a client may send; others (CONNECT, made-up ones) keep Starlette's plain 405.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


def install_method_guards(app: FastAPI) -> None:
    """Call once every route and mount is in place."""
    served: dict[str, set[str]] = defaultdict(set)
    first: set[str] = set()
    for context in iter_route_contexts(app.router.routes):
        route = context.original_route
        if isinstance(route, Mount):
            # Static files: GET and HEAD of anything under the mount.
            path = route.path + "/{path:path}"
            served[path].update({"GET", "HEAD"})
            first.add(path)
        elif context.path is not None and context.methods:
            # Starlette's Route serves HEAD with GET; FastAPI's APIRoute does not.
            served[context.path].update(context.methods)
            if "{" not in context.path:
                first.add(context.path)
    before: list[BaseRoute] = []
    after: list[BaseRoute] = []
    for path, methods in served.items():
        refused = METHODS - methods
        if refused:
            guard = Route(path, _refuse(sorted(methods)), methods=sorted(refused))
            (before if path in first else after).append(guard)
    app.router.routes[:0] = before
    app.router.routes.extend(after)


def _refuse(allowed: list[str]) -> Callable[[Request], Awaitable[JSONResponse]]:
    allow = ", ".join(allowed)

    async def method_not_allowed(request: Request) -> JSONResponse:
        return JSONResponse(
            {"detail": f"{request.method} is not allowed here; allowed: {allow}"},
            status_code=405,
            headers={"Allow": allow},
        )

    return method_not_allowed

"""GETs answered again from the bytes a route rendered for the same request target, without
routing.

A route whose answer depends on the request target alone (path and query: a stored formula,
which never changes, and the catalogue, which changes only with a release) and comes from
rendered JSON (http_cache) calls `remember` once it has answered; the next GET of the same
target is answered here. This middleware is the innermost: every guard outside it has run
(request id, metrics, outages as 503, body size, API key, rate limit), and it checks the
`read` scope that the routers' dependency checks. What it skips is FastAPI's routing,
parameter validation and dependencies, which cost the hot reads several times what their
answer does. A target not seen before goes to the routes as usual: they remain the one place
that decides an answer, and only their successes are remembered.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from fragrance_ai.api.http_cache import BoundedStore, Rendered, send_answer
from fragrance_ai.api.middleware.auth import principal_of
from fragrance_ai.security.keys import Scope as KeyScope

# The root path, the path and the raw query string: what the router and the route read.
Target = tuple[str, str, bytes]

# Targets, not bodies, are what this bounds: the bodies are the routes' own, shared.
_MAX_ENTRIES = 20_000
_MAX_BYTES = 128 * 2**20


@dataclass(frozen=True, slots=True)
class RenderedRead:
    rendered: Rendered
    # The route that rendered it, set in the scope as the router would (metrics label it).
    route: object

    @property
    def size(self) -> int:
        return self.rendered.size


class RenderedReads:
    """What the routes remember and the middleware answers; only the event loop touches it."""

    def __init__(self, *, max_entries: int = _MAX_ENTRIES, max_bytes: int = _MAX_BYTES) -> None:
        self._store: BoundedStore[Target, RenderedRead] = BoundedStore(
            max_entries=max_entries, max_bytes=max_bytes
        )

    def __len__(self) -> int:
        return len(self._store)

    def remember(self, scope: Scope, rendered: Rendered) -> None:
        """For a route that has answered `rendered` to this GET and would answer any GET of
        the same target with it (or its 304)."""
        if scope["method"] == "GET":
            self._store.put(_target(scope), RenderedRead(rendered, scope.get("route")))

    def find(self, scope: Scope) -> RenderedRead | None:
        return self._store.get(_target(scope))


def _target(scope: Scope) -> Target:
    return scope.get("root_path", ""), scope["path"], scope.get("query_string", b"")


class AnswerRenderedReads:
    def __init__(self, app: ASGIApp, reads: RenderedReads) -> None:
        self.app = app
        self._reads = reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            found = self._reads.find(scope)
            if found is not None:
                principal = principal_of(scope)
                # Without a caller or the scope, the route answers (401 or 403).
                if principal is not None and principal.allows(KeyScope.READ):
                    scope["route"] = found.route
                    await send_answer(scope, send, found.rendered)
                    return
        await self.app(scope, receive, send)

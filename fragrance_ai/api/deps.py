"""Typed dependencies, so a route's signature reads like a sentence and a test overrides one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from fragrance_ai.api.active_models import ActiveModels
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.runtime import Runtime

T = TypeVar("T")


class Database:
    """Runs one unit of work (open a session, use it, close it) in the thread pool.

    Routes are `async def` and hand their database work here in one piece: every hop between
    the event loop and the thread pool costs about half a millisecond on a small host, and a
    plain `def` route with a session dependency makes three of them.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    async def run(self, work: Callable[[Session], T]) -> T:
        return await run_in_threadpool(self._run, work)

    def _run(self, work: Callable[[Session], T]) -> T:
        with self._sessions() as session:
            return work(session)


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_database(runtime: RuntimeDep) -> Database:
    return Database(runtime.sessions)


async def get_catalogue(runtime: RuntimeDep) -> Catalogue:
    return runtime.catalogue


async def get_active_models(request: Request) -> ActiveModels:
    models: ActiveModels = request.app.state.active_models
    return models


DatabaseDep = Annotated[Database, Depends(get_database)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
ActiveModelsDep = Annotated[ActiveModels, Depends(get_active_models)]

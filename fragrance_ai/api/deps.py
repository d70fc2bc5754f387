"""Typed dependencies, so a route's signature reads like a sentence and a test overrides one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    with runtime.sessions() as session:
        yield session


def get_catalogue(runtime: RuntimeDep) -> Catalogue:
    return runtime.catalogue


SessionDep = Annotated[Session, Depends(get_session)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]

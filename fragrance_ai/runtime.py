"""What a process holds while it runs: settings, the database, the queue and the domain services.

The API builds one at start-up and keeps it on the app; a worker builds one on its first job
and keeps it, so models and the catalogue stay loaded between jobs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from fragrance_ai.db.engine import create_database_engine, create_session_factory
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.queue import InProcessJobQueue, JobQueue, RedisJobQueue
from fragrance_ai.settings import Settings, load_settings

if TYPE_CHECKING:
    from fragrance_ai.llm.ensemble import BriefEnsemble


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    queue: JobQueue
    sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = create_session_factory(self.engine)

    @cached_property
    def catalogue(self) -> Catalogue:
        return load_catalogue()

    @cached_property
    def brief_ensemble(self) -> BriefEnsemble:
        """The LLM worker's models, loaded once and kept. Imported here, not at the top:
        it brings torch, which the API process never loads."""
        from fragrance_ai.llm.ensemble import BriefEnsemble

        ensemble = BriefEnsemble(self.settings, self.catalogue)
        ensemble.load()
        return ensemble

    def close(self) -> None:
        self.queue.close()
        self.engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    queue: JobQueue
    if settings.redis_url:
        queue = RedisJobQueue(settings.redis_url, settings.queue)
    else:
        queue = InProcessJobQueue(settings.queue)
    return Runtime(
        settings=settings,
        engine=create_database_engine(settings.effective_database_url),
        queue=queue,
    )


_installed: Runtime | None = None
_install_lock = threading.Lock()


def install_runtime(runtime: Runtime | None) -> None:
    global _installed  # noqa: PLW0603 - one runtime per process is the point
    with _install_lock:
        _installed = runtime


def current_runtime() -> Runtime:
    """The process's runtime; a worker builds it from the environment on its first job."""
    global _installed  # noqa: PLW0603
    with _install_lock:
        if _installed is None:
            _installed = build_runtime(load_settings())
        return _installed

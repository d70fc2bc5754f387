"""What a process holds while it runs: settings, the database, the queue and the domain services.

The API builds one at start-up and keeps it on the app; a worker builds one on its first job
and keeps it, so models and the catalogue stay loaded between jobs.
"""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    queue: JobQueue
    sessions: sessionmaker[Session] = field(init=False)
    _ensemble: BriefEnsemble | None = field(default=None, init=False)
    _ensemble_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _models_in_background: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.sessions = create_session_factory(self.engine)

    @cached_property
    def catalogue(self) -> Catalogue:
        return load_catalogue()

    @property
    def brief_ensemble(self) -> BriefEnsemble:
        """The LLM worker's models, kept between jobs: one per process, whichever thread asks
        first. A worker starts loading them in the background at its start
        (`start_loading`); elsewhere the first reading loads them. Imported here, not at the
        top: it brings torch, which the API process never loads."""
        with self._ensemble_lock:
            if self._ensemble is None:
                from fragrance_ai.llm.ensemble import BriefEnsemble

                # In the background: until the start's own thread starts loading, a brief
                # read meanwhile finds every model loading, and never loads one itself.
                self._ensemble = BriefEnsemble(
                    self.settings, self.catalogue, background=self._models_in_background
                )
            return self._ensemble

    def start_loading_models(self) -> None:
        """The in-process workers' code and models, loading in the background from now, so
        the API answers meanwhile: the first brief rehearsed (jobs/warm_up.py: the parser and
        the optimiser, quick), then the LLM worker's models (torch, then each model), which
        no brief waits for. The catalogue is loaded first, here (about half a second): the
        API and every step need it, and a thread racing a brief's for it would load it twice."""
        _ = self.catalogue
        self._models_in_background = True

        def load() -> None:
            from fragrance_ai.jobs.warm_up import warm_up

            try:
                warm_up(self)
            except Exception:  # a rehearsal: the first brief then pays for what it skipped
                log.exception("warming up the workers failed")
            self.brief_ensemble.start_loading()

        threading.Thread(target=load, name="workers-start", daemon=True).start()

    def loaded_ensemble(self) -> BriefEnsemble | None:
        """The ensemble if this process has one (in-process workers), without making one."""
        with self._ensemble_lock:
            return self._ensemble

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

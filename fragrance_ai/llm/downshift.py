"""Downshift: when a mode fails or is slow, briefs asking for it are read in the next
cheaper mode (creative -> balanced -> fast) until `recover_after_s` has passed; then the mode
is tried again with a clean record. Fast has nothing cheaper: past it stands the
deterministic parser, which the ensemble falls back to on any failure anyway."""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable

from fragrance_ai.settings import DownshiftSettings, InferenceMode

CHEAPER: dict[InferenceMode, InferenceMode | None] = {
    InferenceMode.CREATIVE: InferenceMode.BALANCED,
    InferenceMode.BALANCED: InferenceMode.FAST,
    InferenceMode.FAST: None,
}


class ModeGovernor:
    def __init__(
        self, settings: DownshiftSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._outcomes: dict[InferenceMode, deque[tuple[float, bool]]] = {
            mode: deque(maxlen=settings.window) for mode in InferenceMode
        }
        self._degraded_since: dict[InferenceMode, float] = {}
        self._lock = threading.Lock()

    def record(self, mode: InferenceMode, seconds: float, ok: bool) -> None:
        with self._lock:
            outcomes = self._outcomes[mode]
            outcomes.append((seconds, ok))
            if mode not in self._degraded_since and self._unhealthy(mode, outcomes):
                self._degraded_since[mode] = self._clock()

    def _unhealthy(self, mode: InferenceMode, outcomes: deque[tuple[float, bool]]) -> bool:
        if len(outcomes) < min(3, self._settings.window):
            return False
        errors = sum(1 for _, ok in outcomes if not ok) / len(outcomes)
        latency = statistics.median(seconds for seconds, _ in outcomes)
        limit = self._settings.max_latency_s.get(mode, float("inf"))
        return errors > self._settings.max_error_rate or latency > limit

    def degraded(self, mode: InferenceMode) -> bool:
        with self._lock:
            since = self._degraded_since.get(mode)
            if since is None:
                return False
            if self._clock() - since >= self._settings.recover_after_s:
                # Rested: try the mode again from a clean record.
                del self._degraded_since[mode]
                self._outcomes[mode].clear()
                return False
            return True

    def effective(self, requested: InferenceMode) -> InferenceMode:
        mode = requested
        while self.degraded(mode):
            cheaper = CHEAPER[mode]
            if cheaper is None:
                break
            mode = cheaper
        return mode

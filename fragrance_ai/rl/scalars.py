"""TensorBoard event files for the trainer's scalars, written with tensorboardX.

Its record writer does the TFRecord framing (length, masked CRC-32C) and its protobuf
classes the Event and Summary. Not its SummaryWriter: that names the file after the host
rather than the run, and writes through a background thread fed by a multiprocessing queue,
which an RQ work horse would have to be sure to close before it exits; this writer writes
in the caller's thread, and `flush` and `close` put every scalar on disk.

Imports torch through tensorboardX: the trainer's module, never the API's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from tensorboardX.proto.event_pb2 import Event
from tensorboardX.record_writer import RecordWriter
from tensorboardX.summary import scalar

__all__ = ["ScalarWriter"]


class ScalarWriter:
    """Appends scalar events to one new event file in `directory`."""

    def __init__(
        self, directory: Path, *, run_name: str, wall_time: Callable[[], float] = time.time
    ) -> None:
        self._wall_time = wall_time
        start = wall_time()
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"events.out.tfevents.{int(start)}.{run_name}"
        # Exclusive creation: two writers started in the same second under the same run name
        # would otherwise interleave their records in one file. RecordWriter then opens the
        # empty file this writer owns.
        self.path.open("xb").close()
        self._records = RecordWriter(str(self.path))
        self._closed = False
        self._write(Event(wall_time=start, file_version="brain.Event:2"))

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        # simple_value is a float32: a diverging loss beyond its range logs as inf.
        self._write(Event(wall_time=self._wall_time(), step=step, summary=scalar(tag, value)))

    def _write(self, event: Event) -> None:
        self._records.write(event.SerializeToString())

    def flush(self) -> None:
        """Writes what is buffered and fsyncs it."""
        self._records.flush()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.flush()
            self._records.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

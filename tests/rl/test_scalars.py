"""The trainer's scalar log: the event file our writer makes holds the file-version record
TensorBoard looks for and every scalar, framed and checksummed as in a file written by the
real TensorBoard writer, and the writer leaves no thread behind."""

from __future__ import annotations

import math
import struct
import threading
from itertools import count
from pathlib import Path

import pytest
from tensorboardX.proto.event_pb2 import Event
from tensorboardX.record_writer import masked_crc32c

from fragrance_ai.rl.scalars import ScalarWriter

# Written by torch.utils.tensorboard.SummaryWriter (tensorboard 2.21) with these scalars.
REFERENCE = Path(__file__).parent / "data" / "tensorboard_reference.tfevents"
REFERENCE_SCALARS = [
    ("losses/approx_kl", 0, 0.5),
    ("charts/reward", 0, -1.25),
    ("losses/approx_kl", 1, 0.25),
    ("charts/reward", 1, 3.0),
    ("losses/approx_kl", 10, 0.125),
]

# Values exact in float32, since that is how simple_value is stored.
SCALARS = [
    ("losses/approx_kl", 0, 0.015625),
    ("charts/reward", 0, -2.5),
    ("losses/approx_kl", 1, 0.0),
    ("charts/reward", 1_000_000_000_000, 7.75),
]


def read_events(path: Path) -> list[Event]:
    """The events of a TFRecord file, each record's checksums checked."""
    data, events, position = path.read_bytes(), [], 0
    while position < len(data):
        length_bytes = data[position : position + 8]
        (length,) = struct.unpack("<Q", length_bytes)
        (length_crc,) = struct.unpack("<I", data[position + 8 : position + 12])
        payload = data[position + 12 : position + 12 + length]
        (payload_crc,) = struct.unpack("<I", data[position + 12 + length : position + 16 + length])
        assert (length_crc, payload_crc) == (masked_crc32c(length_bytes), masked_crc32c(payload))
        events.append(Event.FromString(payload))
        position += 16 + length
    return events


def read_scalars(path: Path) -> list[tuple[str, int, float]]:
    return [
        (value.tag, event.step, value.simple_value)
        for event in read_events(path)
        for value in event.summary.value
        if value.HasField("simple_value")
    ]


def write_run(directory: Path) -> Path:
    clock = count(1_700_000_000)
    with ScalarWriter(directory, run_name="ppo", wall_time=lambda: float(next(clock))) as writer:
        for tag, step, value in SCALARS:
            writer.add_scalar(tag, value, step)
    return writer.path


def test_written_scalars_read_back(tmp_path: Path) -> None:
    path = write_run(tmp_path / "runs")

    assert path == tmp_path / "runs" / "events.out.tfevents.1700000000.ppo"
    assert read_scalars(path) == SCALARS


def test_the_file_starts_with_the_version_record_tensorboard_expects(tmp_path: Path) -> None:
    first, *rest = read_events(write_run(tmp_path))

    assert (first.file_version, first.wall_time) == ("brain.Event:2", 1_700_000_000.0)
    assert [event.wall_time for event in rest] == [1_700_000_001.0 + i for i in range(4)]


def test_the_reader_reads_a_file_written_by_tensorboard() -> None:
    # The same reader, on the real TensorBoard writer's file: ours is framed as that one is.
    assert read_scalars(REFERENCE) == REFERENCE_SCALARS
    assert read_events(REFERENCE)[0].file_version == "brain.Event:2"


def test_a_diverging_loss_logs_as_inf(tmp_path: Path) -> None:
    with ScalarWriter(tmp_path, run_name="ppo") as writer:
        writer.add_scalar("losses/value_loss", 1e39, 3)
        writer.add_scalar("losses/value_loss", -1e39, 4)
    assert read_scalars(writer.path) == [
        ("losses/value_loss", 3, math.inf),
        ("losses/value_loss", 4, -math.inf),
    ]


def test_flush_puts_every_scalar_on_disk_and_no_thread_is_left(tmp_path: Path) -> None:
    threads = set(threading.enumerate())
    writer = ScalarWriter(tmp_path, run_name="ppo")
    writer.add_scalar("charts/reward", 1.5, 7)
    writer.flush()

    assert read_scalars(writer.path) == [("charts/reward", 7, 1.5)]
    assert set(threading.enumerate()) == threads
    writer.close()
    writer.close()


def test_a_second_writer_for_the_same_run_and_second_is_refused(tmp_path: Path) -> None:
    with ScalarWriter(tmp_path, run_name="ppo", wall_time=lambda: 5.0) as first:
        first.add_scalar("charts/reward", 1.0, 1)
        with pytest.raises(FileExistsError):
            ScalarWriter(tmp_path, run_name="ppo", wall_time=lambda: 5.0)
    assert read_scalars(first.path) == [("charts/reward", 1, 1.0)]

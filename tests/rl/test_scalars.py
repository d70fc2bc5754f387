"""The trainer's scalar log: files our writer makes read back exactly, files made by the real
TensorBoard writer read the same way, and damaged files are refused rather than misread."""

from __future__ import annotations

from itertools import count
from pathlib import Path

import pytest

from fragrance_ai.rl.scalars import ScalarWriter, crc32c, read_scalars

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


def test_reads_file_written_by_tensorboard() -> None:
    assert read_scalars(REFERENCE) == REFERENCE_SCALARS


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(13, id="first event's payload"),
        pytest.param(-5, id="last scalar's value"),
        pytest.param(3, id="length"),
    ],
)
def test_damaged_record_is_refused(tmp_path: Path, offset: int) -> None:
    path = write_run(tmp_path)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))

    with pytest.raises(ValueError, match="checksum mismatch"):
        read_scalars(path)


def test_crc32c_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283

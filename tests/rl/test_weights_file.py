"""Policy and reward-model files: what we write the safetensors library reads, the same input
always gives the same bytes (the database records their hash), files written by 0.2.0's own
encoder still load, and a damaged file is a ValueError that the API turns into "model
unavailable"."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from safetensors import safe_open

from fragrance_ai.rl.weights_file import decode, encode, read_verified, write_atomically

# Written by 0.2.0's hand-made encoder (tensors in name order, header keys sorted), before
# the safetensors library wrote these files.
WRITTEN_BY_0_2_0 = Path(__file__).parent / "data" / "weights_written_by_0.2.0.safetensors"

ARRAYS: dict[str, npt.NDArray[np.generic]] = {
    "actor.0.weight": np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
    "actor.0.bias": np.array([-1.5, 2.25], dtype=np.float32),
    "reward.mean": np.array([0.125, -3.0, 1e300]),
    "steps": np.array([[1, -2], [3, 1 << 40]], dtype=np.int64),
}
METADATA = {"format": "fragrance-ai-policy/1", "feature_names": '["a", "b"]', "update": "3"}


def _assert_same(arrays: dict[str, npt.NDArray[np.generic]], metadata: dict[str, str]) -> None:
    assert metadata == METADATA
    assert arrays.keys() == ARRAYS.keys()
    for name, expected in ARRAYS.items():
        assert arrays[name].dtype == expected.dtype, name
        assert np.array_equal(arrays[name], expected), name


def test_a_file_written_by_0_2_0_still_loads() -> None:
    _assert_same(*decode(WRITTEN_BY_0_2_0.read_bytes()))


def test_the_safetensors_library_reads_what_we_write(tmp_path: Path) -> None:
    path = tmp_path / "policy.safetensors"
    write_atomically(path, encode(ARRAYS, METADATA))

    with safe_open(path, framework="np") as opened:
        names = opened.keys()  # a safe_open handle is not iterable
        _assert_same({name: opened.get_tensor(name) for name in names}, opened.metadata())
    _assert_same(*decode(path.read_bytes()))


def test_the_same_arrays_and_metadata_always_give_the_same_bytes() -> None:
    # Enough entries that an unsorted order (safetensors#584) would show.
    metadata = {f"key-{index}": str(index) for index in range(16)}
    blobs = {encode(ARRAYS, metadata) for _ in range(5)}
    assert len(blobs) == 1
    assert decode(blobs.pop())[1] == metadata


def test_write_atomically_returns_the_files_sha256(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "policy.safetensors"
    blob = encode(ARRAYS, METADATA)

    assert write_atomically(path, blob) == hashlib.sha256(path.read_bytes()).hexdigest()
    _assert_same(*read_verified(path, hashlib.sha256(blob).hexdigest()))


def test_a_changed_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.safetensors"
    sha256 = write_atomically(path, encode(ARRAYS, METADATA))
    write_atomically(path, encode(ARRAYS, {**METADATA, "update": "4"}))

    with pytest.raises(ValueError, match="differs from the recorded"):
        read_verified(path, sha256)


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"\x01", id="too short"),
        pytest.param(WRITTEN_BY_0_2_0.read_bytes()[:-3], id="truncated data"),
        pytest.param(b"\xff" * 8 + b"{}", id="header runs past the end"),
    ],
)
def test_a_damaged_file_is_a_value_error(blob: bytes) -> None:
    with pytest.raises(ValueError, match="not a weights file"):
        decode(blob)

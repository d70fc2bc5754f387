"""Named arrays on disk in the safetensors layout, written and read with NumPy alone.

Why not `torch.save` or `np.savez`: the API process must read a policy without torch, and
both of those embed what makes two identical trainings differ byte for byte (zip member
timestamps). This layout (8-byte header length, a JSON header with sorted keys, the raw
little-endian arrays) is deterministic, and the `safetensors` library reads it as well.

Writes are atomic (fragrance_ai.platform.atomic_file): a process killed mid-write leaves the
previous file whole.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fragrance_ai.platform import atomic_file

Arrays = dict[str, npt.NDArray[np.generic]]
_DTYPES: dict[str, str] = {"float32": "F32", "float64": "F64", "int64": "I64"}
_NUMPY_OF = {code: np.dtype(name).newbyteorder("<") for name, code in _DTYPES.items()}


def encode(arrays: Mapping[str, npt.NDArray[np.generic]], metadata: Mapping[str, str]) -> bytes:
    header: dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))}
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        code = _DTYPES.get(array.dtype.name)
        if code is None:
            raise ValueError(f"{name}: dtype {array.dtype} is not stored")
        data = array.astype(_NUMPY_OF[code], copy=False).tobytes()
        header[name] = {
            "dtype": code,
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    encoded = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    # The format pads the header with spaces to a multiple of 8 bytes.
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks)


def decode(blob: bytes) -> tuple[dict[str, npt.NDArray[np.generic]], dict[str, str]]:
    if len(blob) < 8:
        raise ValueError("not a weights file: too short")
    (length,) = struct.unpack("<Q", blob[:8])
    if 8 + length > len(blob):
        raise ValueError("not a weights file: header runs past the end")
    header = json.loads(blob[8 : 8 + length])
    metadata = {str(k): str(v) for k, v in (header.pop("__metadata__", None) or {}).items()}
    body = memoryview(blob)[8 + length :]
    arrays: dict[str, npt.NDArray[np.generic]] = {}
    for name, entry in header.items():
        start, end = entry["data_offsets"]
        if end > len(body):
            raise ValueError(f"{name}: data runs past the end of the file")
        array = np.frombuffer(body[start:end], dtype=_NUMPY_OF[entry["dtype"]])
        arrays[name] = array.reshape(entry["shape"]).copy()
    return arrays, metadata


def write_atomically(path: Path, blob: bytes) -> str:
    """Writes `blob` to `path` atomically; returns its SHA-256."""
    atomic_file.write_atomically(path, blob)
    return hashlib.sha256(blob).hexdigest()


def read_verified(
    path: Path, sha256: str
) -> tuple[dict[str, npt.NDArray[np.generic]], dict[str, str]]:
    """Reads a file whose hash the database recorded; a changed or truncated file is an
    error, never a policy silently different from the one that was evaluated."""
    blob = path.read_bytes()
    actual = hashlib.sha256(blob).hexdigest()
    if actual != sha256:
        raise ValueError(f"{path}: sha256 {actual} differs from the recorded {sha256}")
    return decode(blob)

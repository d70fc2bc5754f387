"""Named arrays on disk as safetensors, written and read by the `safetensors` library's NumPy
API (no torch: the API process reads policies without it).

Why not `torch.save` or `np.savez`: both embed what makes two identical trainings differ byte
for byte (zip member timestamps), and the database records each file's SHA-256. safetensors
0.8 is deterministic but for one thing: it writes the `__metadata__` entries in a random
order (safetensors/safetensors#584), so `encode` sorts them. Files written before the library
was used (tensors in name order rather than the library's dtype-then-name order) load the
same way.

Writes are atomic (fragrance_ai.platform.atomic_file): a process killed mid-write leaves the
previous file whole.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import safetensors.numpy
from safetensors import SafetensorError

from fragrance_ai.platform import atomic_file

Arrays = dict[str, npt.NDArray[np.generic]]


def encode(arrays: Mapping[str, npt.NDArray[np.generic]], metadata: Mapping[str, str]) -> bytes:
    contiguous = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
    return _sort_metadata(safetensors.numpy.save(contiguous, metadata=dict(metadata)))


def decode(blob: bytes) -> tuple[Arrays, dict[str, str]]:
    try:
        arrays = safetensors.numpy.load(blob)
    except SafetensorError as error:
        raise ValueError(f"not a weights file: {error}") from error
    # The library validated the header; its bytes API just does not return the metadata.
    metadata: dict[str, str] = _header(blob).get("__metadata__") or {}
    return dict(arrays), metadata


def _header(blob: bytes) -> dict[str, Any]:
    (length,) = struct.unpack("<Q", blob[:8])
    header: dict[str, Any] = json.loads(blob[8 : 8 + length])
    return header


def _sort_metadata(blob: bytes) -> bytes:
    """The same file with its metadata entries in key order: safetensors#584's workaround,
    to drop once the library writes them sorted."""
    (length,) = struct.unpack("<Q", blob[:8])
    header = _header(blob)
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    encoded = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    # The format pads the header with spaces to a multiple of 8 bytes, as the library does.
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + blob[8 + length :]


def write_atomically(path: Path, blob: bytes) -> str:
    """Writes `blob` to `path` atomically; returns its SHA-256."""
    atomic_file.write_atomically(path, blob)
    return hashlib.sha256(blob).hexdigest()


def read_verified(path: Path, sha256: str) -> tuple[Arrays, dict[str, str]]:
    """Reads a file whose hash the database recorded; a changed or truncated file is an
    error, never a policy silently different from the one that was evaluated."""
    blob = path.read_bytes()
    actual = hashlib.sha256(blob).hexdigest()
    if actual != sha256:
        raise ValueError(f"{path}: sha256 {actual} differs from the recorded {sha256}")
    return decode(blob)

"""TensorBoard event files for scalars, written and read with the standard library only.

The PPO trainer logs losses and rewards as TensorBoard scalars; pulling in tensorboard,
protobuf or torch just to append a few records would tie the trainer to their versions, so
the record framing (TFRecord with masked CRC-32C) and the few protobuf fields of an Event
are encoded here by hand.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

__all__ = ["ScalarWriter", "crc32c", "read_scalars"]

_CASTAGNOLI_REFLECTED = 0x82F63B78


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CASTAGNOLI_REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum TFRecord framing uses."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> int:
    # TFRecord masks the CRC so that a CRC computed over data that itself holds CRCs
    # does not degenerate.
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# Protobuf wire types.
_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


def _varint(value: int) -> bytes:
    # Negative int64 values are sent as their 64-bit two's complement (ten bytes).
    value &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _key(field, _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _float32(value: float) -> bytes:
    # simple_value is a float32; a diverging loss beyond its range should log as inf,
    # not crash the trainer in struct.pack.
    try:
        return struct.pack("<f", value)
    except OverflowError:
        return struct.pack("<f", math.copysign(math.inf, value))


def _event(wall_time: float, step: int, body: bytes) -> bytes:
    # proto3 leaves a zero step out; doing the same keeps our events byte-identical to
    # tensorboard's own.
    step_field = _key(2, _VARINT) + _varint(step) if step else b""
    return _key(1, _FIXED64) + struct.pack("<d", wall_time) + step_field + body


def _scalar_summary(tag: str, value: float) -> bytes:
    summary_value = _length_delimited(1, tag.encode()) + _key(2, _FIXED32) + _float32(value)
    return _length_delimited(5, _length_delimited(1, summary_value))


def _record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return (
        length
        + struct.pack("<I", _masked_crc(length))
        + data
        + struct.pack("<I", _masked_crc(data))
    )


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
        # would otherwise interleave their records in one file.
        self._file: BinaryIO = self.path.open("xb")
        self._file.write(_record(_event(start, 0, _length_delimited(3, b"brain.Event:2"))))

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self._file.write(_record(_event(self._wall_time(), step, _scalar_summary(tag, value))))

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while pos < len(buf) and shift < 64:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    raise ValueError("malformed varint")


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of each field in a protobuf message."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire_type = key >> 3, key & 7
        value: int | bytes
        if wire_type == _VARINT:
            value, pos = _read_varint(buf, pos)
        elif wire_type in (_FIXED64, _FIXED32):
            size = 8 if wire_type == _FIXED64 else 4
            value, pos = buf[pos : pos + size], pos + size
        elif wire_type == _LENGTH_DELIMITED:
            size, pos = _read_varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
        if pos > len(buf):
            raise ValueError("protobuf field runs past the end of its message")
        yield field, wire_type, value


def _scalars_of(event: bytes) -> Iterator[tuple[str, int, float]]:
    step = 0
    summaries: list[bytes] = []
    for field, wire_type, value in _fields(event):
        if field == 2 and wire_type == _VARINT and isinstance(value, int):
            step = value - (1 << 64) if value >= 1 << 63 else value
        elif field == 5 and isinstance(value, bytes):
            summaries.append(value)
    for summary in summaries:
        for field, _, summary_value in _fields(summary):
            if field != 1 or not isinstance(summary_value, bytes):
                continue
            tag, simple_value = None, None
            for inner, wire_type, value in _fields(summary_value):
                if inner == 1 and isinstance(value, bytes):
                    tag = value.decode()
                elif inner == 2 and wire_type == _FIXED32 and isinstance(value, bytes):
                    simple_value = struct.unpack("<f", value)[0]
            # Images, histograms and tensor-valued summaries carry no simple_value.
            if tag is not None and simple_value is not None:
                yield tag, step, simple_value


def _records(data: bytes) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        header = data[pos : pos + 12]
        if len(header) < 12:
            raise ValueError(f"truncated record header at byte {pos}")
        length_bytes, (length_crc,) = header[:8], struct.unpack("<I", header[8:])
        if _masked_crc(length_bytes) != length_crc:
            raise ValueError(f"length checksum mismatch at byte {pos}")
        (length,) = struct.unpack("<Q", length_bytes)
        body = data[pos + 12 : pos + 12 + length + 4]
        if len(body) < length + 4:
            raise ValueError(f"truncated record at byte {pos}")
        payload, (payload_crc,) = body[:length], struct.unpack("<I", body[length:])
        if _masked_crc(payload) != payload_crc:
            raise ValueError(f"data checksum mismatch at byte {pos}")
        yield payload
        pos += 12 + length + 4


def read_scalars(path: Path) -> list[tuple[str, int, float]]:
    """(tag, step, value) of every simple-value scalar in an event file, in file order.

    Raises ValueError if any record fails its checksums or is cut short.
    """
    return [scalar for event in _records(path.read_bytes()) for scalar in _scalars_of(event)]

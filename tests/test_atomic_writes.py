"""Policy and reward-model files are written atomically: a process killed mid-write leaves
the previous file whole, and the temporary it left is cleaned up by the next write."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fragrance_ai import atomic_file
from fragrance_ai.rl.weights_file import decode, write_atomically

# 32 MB a version: a write (with its fsync) takes most of each pass of the writer's loop,
# so most random kills land inside one.
ELEMENTS = 8_000_000
KILLS = 20

# Writes versions start, start+1, ... through the production function, one line per
# version once it is on disk; `count` 0 writes until killed.
WRITER = """
import sys
from pathlib import Path
import numpy as np
from fragrance_ai.rl.weights_file import encode, write_atomically

path = Path(sys.argv[1])
start, count, elements = (int(argument) for argument in sys.argv[2:5])
version = start
while count == 0 or version < start + count:
    blob = encode({"w": np.full(elements, version, np.float32)}, {"version": str(version)})
    write_atomically(path, blob)
    print(version, flush=True)
    version += 1
"""


def _start_writer(path: Path, start: int, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(start), str(count), str(ELEMENTS)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _version_on_disk(path: Path) -> int:
    """The version the file holds, after checking that it is that version whole."""
    arrays, metadata = decode(path.read_bytes())
    version = int(metadata["version"])
    assert arrays["w"].shape == (ELEMENTS,)
    assert bool((arrays["w"] == version).all()), f"version {version} is mixed with another"
    return version


def _temporaries(directory: Path) -> list[str]:
    return sorted(entry.name for entry in directory.iterdir() if entry.name != "policy.bin")


def test_a_writer_killed_mid_write_leaves_the_last_complete_file_and_no_temporary(
    tmp_path: Path,
) -> None:
    path = tmp_path / "policy.bin"
    chance = random.Random()
    next_version = 0
    killed_mid_write = 0
    for _ in range(KILLS):
        writer = _start_writer(path, next_version, count=0)
        try:
            assert writer.stdout is not None
            # Once one version of this writer is on disk, kill it at a random moment of the
            # next few writes.
            first = writer.stdout.readline()
            assert first.strip() == str(next_version), first
            time.sleep(chance.uniform(0, 0.3))
            writer.send_signal(signal.SIGKILL)
            reported = [next_version, *(int(line) for line in writer.stdout.read().split())]
        finally:
            if writer.poll() is None:
                writer.kill()
            returncode = writer.wait(timeout=30)
        assert returncode == -signal.SIGKILL
        on_disk = _version_on_disk(path)
        # The last version it reported, or the next one if it was killed between the rename
        # and the report: never a version it had not finished.
        assert on_disk in (reported[-1], reported[-1] + 1), (on_disk, reported)
        left = _temporaries(tmp_path)
        assert len(left) <= 1, left
        killed_mid_write += len(left)
        next_version = on_disk + 1
    # Kills that found a temporary on disk landed inside a write: the test exercised what it
    # claims to (typically most of the 20 do).
    assert killed_mid_write >= 3, f"only {killed_mid_write} of {KILLS} kills landed mid-write"

    finisher = _start_writer(path, next_version, count=1)
    stdout, _ = finisher.communicate(timeout=60)
    assert finisher.returncode == 0
    assert stdout.split() == [str(next_version)]
    assert _version_on_disk(path) == next_version
    assert _temporaries(tmp_path) == [], "the next write removes what a killed writer left"


def test_a_failed_write_removes_its_temporary_and_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "reward.safetensors"
    write_atomically(path, b"previous")

    def disk_full(_descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(path, b"next")
    assert path.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reward.safetensors"]


def test_a_temporary_of_a_live_writer_is_left_alone_and_an_old_one_goes(tmp_path: Path) -> None:
    live = tmp_path / atomic_file.temporary_name("policy.bin")  # this process: alive
    # Another host's process id means nothing here, even one that is not running here.
    elsewhere = tmp_path / f".policy.bin.0000~another-host~{_reaped_pid()}.tmp"
    live.write_bytes(b"being written")
    elsewhere.write_bytes(b"being written on a shared volume")
    assert atomic_file.remove_stale_temporaries(tmp_path) == []

    an_hour_later = time.time() + atomic_file.STALE_AFTER_S + 1
    removed = atomic_file.remove_stale_temporaries(tmp_path, now=an_hour_later)
    assert sorted(removed) == sorted([live, elsewhere])
    assert list(tmp_path.iterdir()) == []


def test_a_temporary_whose_writer_is_gone_goes_at_once(tmp_path: Path) -> None:
    dead_pid = _reaped_pid()
    dead = tmp_path / f".policy.bin.0000~{socket.gethostname()}~{dead_pid}.tmp"
    dead.write_bytes(b"half")
    kept = tmp_path / "notes.tmp"  # not one of ours: never touched
    kept.write_bytes(b"someone else's")
    assert atomic_file.remove_stale_temporaries(tmp_path) == [dead]
    assert [p.name for p in tmp_path.iterdir()] == ["notes.tmp"]


def _reaped_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert child.wait(timeout=60) == 0
    return child.pid

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

from fragrance_ai.platform import atomic_file
from fragrance_ai.rl.weights_file import decode, write_atomically

# 32 MB a version: a write (with its fsync) takes much of each pass of the writer's loop,
# so many random kills land inside one.
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
if len(sys.argv) > 5:
    # Stop inside the write of version `start` + 1: its bytes are in the temporary file,
    # not yet fsynced nor renamed. Says so, then waits to be killed.
    import os, time
    real_fsync, pause_at = os.fsync, start + 1

    def fsync_then_pause(descriptor):
        if version == pause_at and os.path.isfile(f"/proc/self/fd/{descriptor}"):
            print("inside", version, flush=True)
            time.sleep(600)
        real_fsync(descriptor)

    os.fsync = fsync_then_pause
version = start
while count == 0 or version < start + count:
    blob = encode({"w": np.full(elements, version, np.float32)}, {"version": str(version)})
    write_atomically(path, blob)
    print(version, flush=True)
    version += 1
"""


def _start_writer(
    path: Path, start: int, count: int, *, pause_inside_second: bool = False
) -> subprocess.Popen[str]:
    arguments = [str(path), str(start), str(count), str(ELEMENTS)]
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, *arguments, *(["pause"] if pause_inside_second else [])],
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


def test_a_writer_killed_inside_a_write_leaves_the_previous_file_and_the_next_write_cleans_up(
    tmp_path: Path,
) -> None:
    path = tmp_path / "policy.bin"
    writer = _start_writer(path, 0, count=0, pause_inside_second=True)
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().split() == ["0"]
        # Version 1's bytes are written to the temporary; the kill lands before its rename.
        assert writer.stdout.readline().split() == ["inside", "1"]
        writer.send_signal(signal.SIGKILL)
    finally:
        if writer.poll() is None:
            writer.kill()
        returncode = writer.wait(timeout=30)
    assert returncode == -signal.SIGKILL
    assert _version_on_disk(path) == 0
    assert len(_temporaries(tmp_path)) == 1, "the killed write left its temporary"

    finisher = _start_writer(path, 1, count=1)
    stdout, _ = finisher.communicate(timeout=60)
    assert finisher.returncode == 0
    assert stdout.split() == ["1"]
    assert _version_on_disk(path) == 1
    assert _temporaries(tmp_path) == [], "the next write removes what a killed writer left"


def test_a_writer_killed_at_random_moments_never_leaves_a_version_it_had_not_finished(
    tmp_path: Path,
) -> None:
    path = tmp_path / "policy.bin"
    # Random moments, seeded so a failure can be replayed; the kill above is the one that
    # certainly lands inside a write, these cover the moments around it.
    chance = random.Random(20261202)
    next_version = 0
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
        assert len(_temporaries(tmp_path)) <= 1, _temporaries(tmp_path)
        next_version = on_disk + 1


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

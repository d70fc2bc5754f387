"""Files replaced whole or not at all, even when the process is killed or the machine loses
power mid-write: the policy and reward-model files, and anything else that must never be
read half-written (a database backup).

The bytes go to a temporary file in the same directory (a rename is atomic only within one
file system), which is flushed and fsynced, then renamed over the target, then the directory
is fsynced so that the rename itself survives a crash. A reader sees the old file or the new
one, never a mix.

A process killed between creating its temporary file and the rename leaves that file behind.
Its name says which host and process wrote it, so the next write into the same directory
removes it once that process is gone; a temporary older than `STALE_AFTER_S` goes whoever
wrote it (a container's host name and process id are not stable across restarts).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

# Writing a policy file takes well under a second; an hour-old temporary is a dead writer's.
STALE_AFTER_S = 3600.0
_SUFFIX = ".tmp"
# Host names hold no "~", so the owner is read back from the end of the name.
_SEPARATOR = "~"


def write_atomically(path: Path, data: bytes) -> None:
    """Replaces `path` with `data`, creating its directory if needed."""
    # "x": never write through a file someone else created under the same name.
    with replaced_atomically(path) as temporary, open(temporary, "xb") as handle:
        handle.write(data)


@contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` for the caller (or a tool it runs, such as pg_dump) to
    write; once the block ends it is fsynced and renamed over `path`. On an error it is
    removed and `path` is left as it was."""
    directory = path.parent
    if not directory.is_dir():
        directory.mkdir(parents=True, exist_ok=True)
        # The new directory's own entry must survive a crash too.
        fsync_path(directory.parent)
    remove_stale_temporaries(directory)
    temporary = directory / temporary_name(path.name)
    try:
        yield temporary
        fsync_path(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_path(directory)


def temporary_name(target_name: str) -> str:
    """A hidden name that no reader of the target mistakes for it, with its writer's host
    and process id at the end."""
    owner = _SEPARATOR.join((socket.gethostname(), str(os.getpid())))
    return f".{target_name}.{secrets.token_hex(4)}{_SEPARATOR}{owner}{_SUFFIX}"


def is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(_SUFFIX) and name.count(_SEPARATOR) >= 2


def remove_stale_temporaries(directory: Path, *, now: float | None = None) -> list[Path]:
    """Removes the temporaries of writers that are gone; returns what it removed."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not is_temporary(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            age_s = now - entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue  # its writer renamed or removed it meanwhile
        if age_s < STALE_AFTER_S and _writer_is_alive(entry.name):
            continue
        Path(entry.path).unlink(missing_ok=True)
        removed.append(Path(entry.path))
        log.warning("removed %s, left by a writer that did not finish", entry.path)
    return removed


def _writer_is_alive(name: str) -> bool:
    """False only when the writer ran on this host and its process is gone; a writer on
    another host (a shared volume) may still be writing."""
    host, pid = name.removesuffix(_SUFFIX).split(_SEPARATOR)[-2:]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, under another user
    return True


def fsync_path(path: Path) -> None:
    """A file's or a directory's; a read-only descriptor is enough for either on Linux."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

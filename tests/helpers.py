from __future__ import annotations

import os
import socket
import subprocess
import time
from typing import Any, NoReturn, Protocol

import httpx
import pytest


class _Client(Protocol):
    def get(self, url: str) -> Any: ...


def wait_for_job(client: _Client, job_id: str, *, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("finished", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end within {timeout_s} s")


def missing(message: str, *, required_because: str) -> NoReturn:
    """Skips the test for want of a tool or a server, except under CI=true, where it must be
    there: a skip in CI would pass without testing anything."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: {required_because})")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_answering(
    client: httpx.Client, process: subprocess.Popen[bytes], path: str, *, timeout_s: float = 60
) -> None:
    """Polls `path` until it answers 200, failing early if the process dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the process exited during start-up ({process.args!r})"
        try:
            if client.get(path).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{path} did not answer 200 within {timeout_s} s")


# A chypre as a perfumer would send it to the check: materials by name, one by CAS.
CHYPRE = [
    {"name": "Bergamot oil", "percent": 12},
    {"name": "Lemon oil", "percent": 4},
    {"cas": "78-70-6", "percent": 9},
    {"name": "Hedione", "percent": 25},
    {"name": "rose oil", "percent": 1},
    {"name": "Phenylethyl alcohol", "percent": 9},
    {"name": "oakmoss", "percent": 2},
    {"name": "Patchouli oil", "percent": 8},
    {"name": "Iso E Super", "percent": 15},
    {"name": "Galaxolide", "percent": 15},
]

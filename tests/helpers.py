from __future__ import annotations

import time
from typing import Any, Protocol


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

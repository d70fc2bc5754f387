"""A small closed-loop HTTP/1.1 load generator: keep-alive connections on loopback, each
sending its next request when the previous answer is in. Lean enough that on 2 cores the
server, not the client, is what is measured; both endpoints share it, so ratios are fair."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_s: list[float]

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.latencies_s)
        index = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
        return ordered[index] * 1000

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_s) * 1000


@dataclass
class _Run:
    host: str
    port: int
    path: str
    stop_at: float
    latencies: list[float]
    errors: list[int]


async def _connection(run: _Run) -> None:
    reader, writer = await asyncio.open_connection(run.host, run.port)
    request = f"GET {run.path} HTTP/1.1\r\nHost: {run.host}\r\n\r\n".encode()
    latencies, errors = run.latencies, run.errors
    try:
        while time.perf_counter() < run.stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


def run_load(host: str, port: int, path: str, *, connections: int, seconds: float) -> LoadResult:
    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> float:
        started = time.perf_counter()
        stop_at = started + seconds
        run = _Run(host, port, path, stop_at, latencies, errors)
        await asyncio.gather(*(_connection(run) for _ in range(connections)))
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    return LoadResult(len(latencies), len(errors), elapsed, latencies)

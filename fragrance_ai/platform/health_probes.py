"""The probes behind `fragrance-ai healthcheck`, for container and systemd health checks.

The API is healthy when its /health answers 200; a worker when RQ has a live registration
(its heartbeat keeps the key alive) for a worker of that kind on this host.
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.request

from redis import Redis
from redis.exceptions import RedisError
from rq import Worker

from fragrance_ai.settings import Settings
from fragrance_ai.worker.main import QUEUES_OF, WorkerKind, worker_name_prefix


def api_is_healthy(url: str, *, timeout_s: float = 5) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status == 200, f"{url}: HTTP {response.status}"
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        return False, f"{url}: {error}"


def default_api_url(settings: Settings) -> str:
    # A wildcard bind address is where the API listens, not an address to connect to.
    wildcard = settings.api_host in ("0.0.0.0", "::", "")
    host = "127.0.0.1" if wildcard else settings.api_host
    return f"http://{host}:{settings.api_port}/health"


def worker_is_healthy(settings: Settings, kind: WorkerKind) -> tuple[bool, str]:
    if not settings.redis_url:
        return False, "REDIS_URL is not set; standalone workers need Redis"
    prefix = worker_name_prefix(kind, socket.gethostname())
    try:
        with Redis.from_url(settings.redis_url, socket_connect_timeout=5) as connection:
            workers = Worker.all(connection=connection)
    except RedisError as error:
        return False, f"redis: {error}"
    live = [worker.name for worker in workers if worker.name.startswith(prefix)]
    if not live:
        return False, f"no live {kind.value} worker on {QUEUES_OF[kind].value} from this host"
    return True, f"live: {', '.join(sorted(live))}"

"""What a worker answers on its metrics port (WORKER_METRICS_PORT) besides /metrics:
/health, 200 while its loop beats (the liveness that feeds systemd's watchdog), and /ready,
200 when it is alive and, in production, every model its configuration names is loaded.

A production LLM worker whose models did not load (no GPU, a CPU build of the package,
missing files) still reads briefs, with the deterministic parser in the models' place; that
keeps briefs flowing, but it is not the service the host was deployed for, so /ready says so
(503, naming each role and why) for a deploy's health check, and the alerts on
fragrance_llm_model_loaded and on fallbacks with reason "unavailable" fire
(configs/prometheus/rules.yml). Outside production a missing model is reported, not refused.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from prometheus_client import MetricsHandler

from fragrance_ai.platform.systemd import HealthCheck
from fragrance_ai.settings import AppEnv, Settings

if TYPE_CHECKING:
    from fragrance_ai.llm.ensemble import BriefEnsemble

log = logging.getLogger(__name__)


def models_not_loaded(ensemble: BriefEnsemble) -> dict[str, str]:
    """Each role whose configuration names a model that is not loaded, and why (still
    loading, or unavailable). A role configured without a model (model_path null) is the
    deterministic parser by design."""
    return {
        name.value: (role.unavailable or "not loaded") if role.attempted else "still loading"
        for name, role in sorted(ensemble.roles.items())
        if role.has_model and role.loaded is None
    }


def worker_readiness(
    settings: Settings, alive: HealthCheck, ensemble: BriefEnsemble | None
) -> tuple[bool, str]:
    """Ready: alive and, in production, every configured model loaded."""
    live, detail = alive()
    if not live or ensemble is None:
        return live, detail
    missing = models_not_loaded(ensemble)
    if not missing:
        return True, f"{detail}; every configured model loaded"
    roles = "; ".join(f"{role}: {reason}" for role, reason in missing.items())
    if settings.app_env is AppEnv.PRODUCTION:
        return False, f"models not loaded: {roles}"
    return True, f"{detail}; models not loaded ({settings.app_env.value} allows it): {roles}"


def serve_probes(host: str, port: int, probes: dict[str, HealthCheck]) -> ThreadingHTTPServer:
    """Serves /metrics and each of `probes` (path -> check: 200 or 503, with the detail as
    JSON) on host:port from a daemon thread; returns the server."""

    class Handler(MetricsHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server calls it by this name
            check = probes.get(urlsplit(self.path).path)
            if check is None:
                super().do_GET()
                return
            ok, detail = check()
            body = json.dumps({"status": "ok" if ok else "unavailable", "detail": detail})
            payload = body.encode()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

    server = Server((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="worker-probes", daemon=True).start()
    return server

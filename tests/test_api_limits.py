"""Request limits on the real app: body size, per-key rate, queue back-pressure and CORS."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from redis import Redis

from fragrance_ai.db.models import Brief
from fragrance_ai.security.keys import Scope
from fragrance_ai.settings import (
    ConfigError,
    QueueSettings,
    RateLimitSettings,
    SecuritySettings,
    load_settings,
)
from tests.helpers import free_port, wait_until_answering
from tests.security_helpers import bearer, new_key, running, served

VOCABULARY = "/v1/briefs/vocabulary"


def test_a_body_declared_over_the_limit_is_refused_with_413(tmp_path: Path) -> None:
    security = SecuritySettings(max_body_bytes=1024)
    with running(tmp_path, security=security) as runtime, served(runtime) as client:
        response = client.post(
            "/v1/briefs",
            content=b'{"text": "' + b"a" * 2000 + b'"}',
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json()["detail"] == (
            "request body too large: at most 1024 bytes (security.max_body_bytes)"
        )
        # Within the limit the body is read and judged as usual.
        small = client.post("/v1/briefs", json={"text": ""})
        assert small.status_code == 422


def test_a_streamed_body_is_refused_before_it_has_all_been_sent(tmp_path: Path) -> None:
    """Chunked, with no Content-Length: the 413 comes back while the client still holds most
    of the body, so the server never buffered it."""
    port = free_port()
    environment = {
        **os.environ,
        "APP_ENV": "development",
        "DATA_DIR": str(tmp_path),
        "SECURITY__MAX_BODY_BYTES": "1024",
    }
    command = [sys.executable, "-m", "uvicorn", "fragrance_ai.api.app:create_app", "--factory"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "warning"], env=environment
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            wait_until_answering(client, server, "/health")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(
                b"POST /v1/briefs HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b"a" * 2048
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            # 2 KiB of a body that would go on for 100 MiB: the answer comes now.
            answer = b""
            while b"max_body_bytes" not in answer and (part := connection.recv(4096)):
                answer += part
        assert answer.startswith(b"HTTP/1.1 413"), answer
        assert b"security.max_body_bytes" in answer
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            # Declared too large: refused before a byte of the body is sent.
            connection.sendall(
                b"POST /v1/briefs HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                b"Content-Length: 104857600\r\n\r\n"
            )
            declared = connection.recv(4096)
        assert declared.startswith(b"HTTP/1.1 413"), declared
    finally:
        server.terminate()
        code = server.wait(timeout=30)
    # uvicorn re-raises SIGTERM after its graceful shutdown.
    assert code in (0, -signal.SIGTERM)


def test_the_rate_limit_refuses_with_429_and_retry_after_per_key(tmp_path: Path) -> None:
    security = SecuritySettings(
        require_api_keys=True,
        rate_limit=RateLimitSettings(requests_per_minute=6, burst=3),
    )
    with running(tmp_path, security=security) as runtime, served(runtime) as client:
        one, two = bearer(new_key(runtime, Scope.READ)), bearer(new_key(runtime, Scope.READ))
        assert [client.get(VOCABULARY, headers=one).status_code for _ in range(3)] == [200] * 3
        refused = client.get(VOCABULARY, headers=one)
        assert refused.status_code == 429
        # 6 a minute: the next request fits in 10 s.
        assert 1 <= int(refused.headers["Retry-After"]) <= 10
        assert "6 requests a minute" in refused.json()["detail"]
        # Another key has its own bucket; operations are never limited.
        assert client.get(VOCABULARY, headers=two).status_code == 200
        assert client.get("/health").status_code == 200


def test_without_keys_each_client_address_has_its_own_bucket(tmp_path: Path) -> None:
    security = SecuritySettings(rate_limit=RateLimitSettings(requests_per_minute=60, burst=2))
    with running(tmp_path, security=security) as runtime, served(runtime) as client:
        assert [client.get(VOCABULARY).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.integration
def test_the_rate_limit_lives_in_redis_and_is_shared_by_replicas(
    tmp_path: Path, redis_url: str
) -> None:
    security = SecuritySettings(
        require_api_keys=True,
        rate_limit=RateLimitSettings(requests_per_minute=6, burst=3),
    )
    with (
        running(tmp_path, security=security, redis_url=redis_url) as runtime,
        served(runtime) as replica_a,
        served(runtime) as replica_b,
    ):
        token = new_key(runtime, Scope.READ)
        key_id = token.split("_")[1]
        assert replica_a.get(VOCABULARY, headers=bearer(token)).status_code == 200
        assert replica_b.get(VOCABULARY, headers=bearer(token)).status_code == 200
        assert replica_a.get(VOCABULARY, headers=bearer(token)).status_code == 200
        assert replica_b.get(VOCABULARY, headers=bearer(token)).status_code == 429
        redis = Redis.from_url(redis_url)
        try:
            bucket = f"fragrance-ai:rate:key:{key_id}"
            assert redis.exists(bucket)
            # It expires once full again: 3 requests at 10 s each, at most 30 s.
            assert 0 < redis.pttl(bucket) <= 31_000
        finally:
            redis.close()


@pytest.mark.integration
def test_a_brief_is_refused_with_503_while_its_queue_is_full(
    tmp_path: Path, redis_url: str
) -> None:
    # RQ on Redis with no worker: what is queued stays queued.
    queue = QueueSettings(retry_intervals_s=[], max_depth=2)
    with running(tmp_path, queue=queue, redis_url=redis_url) as runtime, served(runtime) as client:
        for _ in range(2):
            assert client.post("/v1/briefs", json={"text": "citrus"}).status_code == 202
        refused = client.post("/v1/briefs", json={"text": "citrus"})
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "30"
        assert (
            "llm_inference queue is full: 2 jobs waiting (queue.max_depth 2)"
            in (refused.json()["detail"])
        )
        with runtime.sessions() as session:
            assert session.query(Brief).count() == 2
        # Reads and work that queues nothing go on.
        assert client.get(VOCABULARY).status_code == 200


def test_cors_answers_the_configured_origins_only(tmp_path: Path) -> None:
    security = SecuritySettings(cors_origins=["https://lab.example.com"])
    with running(tmp_path, security=security) as runtime, served(runtime) as client:
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, idempotency-key, x-request-id",
        }
        allowed = client.options(
            "/v1/briefs", headers={"Origin": "https://lab.example.com", **preflight}
        )
        assert allowed.status_code == 200
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://lab.example.com"
        other = client.options(
            "/v1/briefs", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "Access-Control-Allow-Origin" not in other.headers
        read = client.get(VOCABULARY, headers={"Origin": "https://lab.example.com"})
        assert read.headers["Access-Control-Allow-Origin"] == "https://lab.example.com"
        # A page elsewhere can read the id to quote it in a support request.
        exposed = read.headers["Access-Control-Expose-Headers"].lower().split(", ")
        assert "x-request-id" in exposed
        assert read.headers["X-Request-ID"]


def test_no_cors_headers_without_configured_origins(client: httpx.Client) -> None:
    response = client.get(VOCABULARY, headers={"Origin": "https://lab.example.com"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_wildcard_origin_stops_start_up_outside_development(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SECURITY__CORS_ORIGINS", '["*"]')
    monkeypatch.setenv("APP_ENV", "development")
    assert load_settings().security.cors_origins == ["*"]
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(ConfigError, match=r"'\*' lets any web page call the API"):
        load_settings()
    served_anyway = subprocess.run(
        [sys.executable, "-m", "fragrance_ai.cli", "serve", "--port", str(free_port())],
        env={**os.environ, "DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert served_anyway.returncode == 2
    assert "configuration error" in served_anyway.stderr
    assert "allowed in development only (APP_ENV=production)" in served_anyway.stderr


def test_an_origin_with_a_path_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURITY__CORS_ORIGINS", '["https://lab.example.com/app"]')
    with pytest.raises(ConfigError, match="is not an origin"):
        load_settings()

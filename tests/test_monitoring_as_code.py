"""Monitoring as code: the Prometheus rules (configs/prometheus/rules.yml) and the Grafana
dashboard (configs/grafana/fragrance-ai.json) use only metrics the running application
exports, and promtool accepts the rules and passes their unit tests (configs/prometheus/
tests.yml)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from fragrance_ai.api.app import create_app
from fragrance_ai.queue import QueueName
from fragrance_ai.queue.inprocess import InProcessJobQueue
from fragrance_ai.runtime import Runtime
from fragrance_ai.settings import QueueSettings
from tests.helpers import free_port, missing, wait_for_job

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "configs/prometheus/rules.yml"
RULE_TESTS = ROOT / "configs/prometheus/tests.yml"
DASHBOARD = ROOT / "configs/grafana/fragrance-ai.json"

# PromQL words that look like identifiers but name no metric.
_KEYWORDS = frozenset(
    # A word list reads better here than 25 quoted lines.
    "by without on ignoring group_left group_right and or unless bool offset inf nan "  # noqa: SIM905
    "sum min max avg group stddev stdvar count count_values bottomk topk quantile".split()
)
# Label lists after these words name labels, not metrics.
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_TOKEN = re.compile(r"\$\{?\w+\}?|\d[\w.]*|[A-Za-z_:][\w:]*|\S")


def metric_names(expression: str) -> set[str]:
    """The metric names an expression selects: identifiers that are no function (followed by
    `(`), keyword, label (inside `{}` or a by/on list), range (`[5m]`), number or Grafana
    variable."""
    text = _STRING.sub('""', expression)
    text = re.sub(r"\{[^}]*\}", " {} ", text)
    text = re.sub(r"\[[^\]]*\]", " [] ", text)
    text = _LABEL_LIST.sub(" ", text)
    tokens = _TOKEN.findall(text)
    names = set()
    for index, token in enumerate(tokens):
        if not re.fullmatch(r"[A-Za-z_:][\w:]*", token) or token.lower() in _KEYWORDS:
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if following != "(":
            names.add(token)
    return names


def test_the_extractor_finds_metrics_and_skips_functions_labels_and_variables() -> None:
    expression = (
        'histogram_quantile(0.95, sum by (job, le) (rate(a_seconds_bucket{job=~"$job", '
        'le!="+Inf"}[$__rate_interval]))) / on (job) group_left b:rule:rate5m > 2 * 1e3 '
        "and c_total offset 5m unless max without (route) (d)"
    )
    assert metric_names(expression) == {"a_seconds_bucket", "b:rule:rate5m", "c_total", "d"}


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            # Grafana's label_values(selector, label): the selector is PromQL.
            expressions.append(re.sub(r",\s*\w+\)$", ")", variable["query"]["query"]))
    return expressions


def exported_names(exposition: str) -> tuple[set[str], set[str]]:
    """(declared, sampled): every sample name a family on /metrics may have by its type, and
    the sample names it has now. prometheus_client declares a labelled metric (HELP/TYPE)
    before its first series exists."""
    declared: set[str] = set()
    sampled: set[str] = set()
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
    }
    for family in text_string_to_metric_families(exposition):
        declared.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        sampled.update(sample.name for sample in family.samples)
    return declared | sampled, sampled


@pytest.fixture
def worker_metrics(tmp_path: Path, redis_url: str) -> Iterator[str]:
    """A real RL worker (`fragrance-ai worker rl`) serving its own metrics port: scraped,
    then stopped with SIGTERM, which must end it with exit code 0."""
    port = free_port()
    environment = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "worker"),
        "REDIS_URL": redis_url,
        "WORKER_METRICS_PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "fragrance_ai.cli"]
    subprocess.run([*command, "migrate"], env=environment, check=True, timeout=120)
    worker = subprocess.Popen([*command, "worker", "rl"], env=environment, start_new_session=True)
    try:
        exposition = _scrape_when_up(f"http://127.0.0.1:{port}/metrics", worker)
        yield exposition
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=60)


def _scrape_when_up(url: str, process: subprocess.Popen[bytes], attempts: int = 600) -> str:
    for _ in range(attempts):
        assert process.poll() is None, "the worker exited during start-up"
        try:
            return httpx.get(url, timeout=5).text
        except httpx.TransportError:
            # Not listening yet: wait for the process a little instead of spinning.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.1)
    raise AssertionError(f"{url} did not answer")


def test_every_metric_in_the_rules_and_dashboard_is_exported_by_the_running_app(
    client: TestClient, worker_metrics: str
) -> None:
    # A brief through the embedded stack records the HTTP, queue and job series. The LLM's
    # and training's series need a model and a run; their declarations are checked.
    accepted = client.post("/v1/briefs", json={"text": "fresh citrus cologne for summer"})
    assert accepted.status_code == 202, accepted.text
    assert wait_for_job(client, accepted.json()["job_id"])["status"] == "finished"
    api_declared, api_sampled = exported_names(client.get("/metrics").text)
    worker_declared, worker_sampled = exported_names(worker_metrics)

    rules = _rules()
    recorded = {rule["record"] for rule in rules if "record" in rule}
    expressions = [rule["expr"] for rule in rules] + _dashboard_expressions()
    used: set[str] = set()
    for expression in expressions:
        names = metric_names(expression)
        assert names, f"no metric found in {expression!r}"
        used |= names
    known = api_declared | worker_declared | recorded | {"up"}
    assert used - known == set(), "used by rules or dashboard but exported by no process"
    # The series the brief and the scrapes recorded exist, not just their declarations.
    for name in (
        "fragrance_http_requests_total",
        "fragrance_http_request_duration_seconds_bucket",
        "fragrance_queue_depth",
        "fragrance_queue_oldest_job_age_seconds",
        "fragrance_job_duration_seconds_count",
        "fragrance_job_step_duration_seconds_bucket",
        "process_resident_memory_bytes",
    ):
        assert name in api_sampled, name
    assert "process_resident_memory_bytes" in worker_sampled


def test_the_oldest_job_age_on_redis_is_the_head_jobs_wait(
    services_runtime: Runtime,
) -> None:
    # No worker runs: the brief's parse step waits on llm_inference.
    with TestClient(create_app(services_runtime)) as client:
        assert client.post("/v1/briefs", json={"text": "a woody amber"}).status_code == 202
        exposition = client.get("/metrics").text
    ages = _samples(exposition, "fragrance_queue_oldest_job_age_seconds")
    assert 0 < ages[QueueName.LLM_INFERENCE] < 300
    assert ages[QueueName.RL_TRAINING] == 0
    assert _samples(exposition, "fragrance_queue_depth")[QueueName.LLM_INFERENCE] == 1


def test_the_in_process_queue_reports_how_long_its_head_has_waited() -> None:
    queue = InProcessJobQueue(QueueSettings(retry_intervals_s=[]))
    started, release = threading.Event(), threading.Event()

    def blocking(job_id: str) -> None:
        started.set()
        release.wait(timeout=60)

    try:
        queue.enqueue(QueueName.RL_TRAINING, blocking, "first")
        assert started.wait(timeout=60)
        assert queue.oldest_wait_s()[QueueName.RL_TRAINING] == 0
        queue.enqueue(QueueName.RL_TRAINING, blocking, "second")
        assert queue.oldest_wait_s()[QueueName.RL_TRAINING] > 0
        assert queue.oldest_wait_s()[QueueName.LLM_INFERENCE] == 0
    finally:
        release.set()
        queue.close()


def _samples(exposition: str, name: str) -> dict[str, float]:
    return {
        sample.labels["queue"]: sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name
    }


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        missing(
            "promtool is not installed (Debian: apt install prometheus)",
            required_because="the monitoring rules are checked",
        )
    return promtool


def test_promtool_accepts_the_rules() -> None:
    checked = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alert_rules_pass_their_promtool_unit_tests() -> None:
    tested = subprocess.run(
        [_promtool(), "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr

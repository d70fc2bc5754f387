"""The Prometheus metrics the code records. Names are stable: dashboards and alerts use them.

With several uvicorn workers, PROMETHEUS_MULTIPROC_DIR is set before this module is imported
and every process writes its samples there; /metrics then aggregates them.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

HTTP_REQUESTS = Counter(
    "fragrance_http_requests_total",
    "HTTP requests handled, by route template, method and status code.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "fragrance_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUE_DEPTH = Gauge(
    "fragrance_queue_depth",
    "Jobs waiting in each queue, read when /metrics is scraped.",
    ["queue"],
    multiprocess_mode="mostrecent",
)
QUEUE_OLDEST_JOB_AGE = Gauge(
    "fragrance_queue_oldest_job_age_seconds",
    "Seconds the longest-waiting job in each queue has waited (0: empty), read when /metrics "
    "is scraped.",
    ["queue"],
    multiprocess_mode="mostrecent",
)
JOB_STEP_DURATION = Histogram(
    "fragrance_job_step_duration_seconds",
    "Time one job step took on a worker, by step and outcome.",
    ["step", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
JOB_DURATION = Histogram(
    "fragrance_job_duration_seconds",
    "Time from a job's submission to its end (finished or failed), by kind and status.",
    ["kind", "status"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
COMPLIANCE_VERDICTS = Counter(
    "fragrance_compliance_verdicts_total",
    "Compliance verdicts given, by where (check, repair, design) and verdict (compliant, "
    "not_compliant, cannot_certify).",
    ["source", "verdict"],
)


def render_metrics() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# The LLM worker (fragrance_ai/llm). Roles: parser, validator, creative_hints.
LLM_INFERENCE_SECONDS = Histogram(
    "fragrance_llm_inference_seconds",
    "Time of one batched generate call, by role and the mode it served.",
    ["role", "mode"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120),
)
LLM_TOKENS = Counter("fragrance_llm_generated_tokens_total", "Tokens generated, by role.", ["role"])
LLM_BATCH_SIZE = Histogram(
    "fragrance_llm_batch_size",
    "Briefs in one generate call, by role.",
    ["role"],
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 32, 64),
)
LLM_CACHE = Counter(
    "fragrance_llm_cache_total",
    "Parsed-brief cache lookups, by outcome (hit, miss, unavailable, disabled).",
    ["outcome"],
)
LLM_BREAKER_STATE = Gauge(
    "fragrance_llm_breaker_state",
    "Each role's circuit breaker: 0 closed, 1 half open, 2 open.",
    ["role"],
    multiprocess_mode="mostrecent",
)
LLM_DOWNSHIFTS = Counter(
    "fragrance_llm_downshifts_total",
    "Briefs read in a cheaper mode than asked, by the mode asked and the mode used.",
    ["requested", "used"],
)
LLM_FALLBACKS = Counter(
    "fragrance_llm_fallbacks_total",
    "Role calls that fell back to code, by role and reason (unavailable, breaker_open, "
    "timeout, error, rejected).",
    ["role", "reason"],
)
LLM_MODEL_LOADED = Gauge(
    "fragrance_llm_model_loaded",
    "1 when the role's model is loaded in this worker, 0 when its configured model did not "
    "load; no sample for a role configured without a model.",
    ["role"],
    multiprocess_mode="mostrecent",
)

# Learning from choices (fragrance_ai.rl): the trainer records these in the RL worker, the
# API the preferences and the active policy it serves.
RL_PREFERENCES = Counter(
    "fragrance_rl_preferences_stored_total", "Pairwise preferences stored from choices."
)
RL_UPDATES = Counter("fragrance_rl_updates_total", "PPO updates completed.")
RL_REWARD = Gauge(
    "fragrance_rl_reward",
    "Mean raw reward per step of the last rollout.",
    multiprocess_mode="mostrecent",
)
RL_LOSS = Gauge(
    "fragrance_rl_loss",
    "Losses of the last PPO update.",
    ["kind"],
    multiprocess_mode="mostrecent",
)
RL_ENTROPY = Gauge(
    "fragrance_rl_entropy", "Policy entropy at the last PPO update.", multiprocess_mode="mostrecent"
)
RL_APPROX_KL = Gauge(
    "fragrance_rl_approx_kl",
    "Approximate KL of the last PPO update.",
    multiprocess_mode="mostrecent",
)
RL_CLIP_FRACTION = Gauge(
    "fragrance_rl_clip_fraction",
    "Clip fraction of the last PPO update.",
    multiprocess_mode="mostrecent",
)
RL_ROLLBACKS = Counter(
    "fragrance_rl_rollbacks_total", "Automatic rollbacks to the last good checkpoint.", ["reason"]
)
RL_ACTIVE_POLICY_VERSION = Gauge(
    "fragrance_rl_active_policy_version",
    "Version of the active policy; 0: the initial one.",
    multiprocess_mode="mostrecent",
)
RL_REWARD_MODEL_ACCURACY = Gauge(
    "fragrance_rl_reward_model_heldout_accuracy",
    "Held-out pairwise accuracy of the last fit.",
    multiprocess_mode="mostrecent",
)

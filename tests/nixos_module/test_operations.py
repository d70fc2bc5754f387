"""What an operator meets on a real host: ordering against a remote database, migrations that
wait for a slow one and back it up first, the fragrance-ai-manage wrapper, the watchdog's
signal, socket activation, the firewall warning, user/group/dataDir, and Prometheus/Grafana."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest

from tests.nixos_module.conftest import Evaluate, EvaluateRaw
from tests.nixos_module.test_module import (
    APP_UNITS,
    PACKAGE_BIN,
    failed_assertions,
    refused,
    service,
)

REPOSITORY = Path(__file__).resolve().parents[2]
CONFIGS = REPOSITORY / "fragrance_ai" / "configs"
EXTERNAL = (
    'database = { createLocally = false; url = "postgresql+psycopg://fa@db.internal/fa"; }; '
    'redis = { createLocally = false; url = "redis://redis.internal:6379/0"; };'
)
ALL_UNITS = ["fragrance-ai-migrate", *APP_UNITS]
# eval.nix's stand-in for systemd.package.
SYSTEMCTL = "/nix/store/00000000000000000000000000000000-systemd-258/bin/systemctl"


# ---- ordering --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        EXTERNAL,
        'database = { createLocally = false; url = "postgresql+psycopg://fa@db/fa"; };',
        'redis = { createLocally = false; url = "redis://redis.internal:6379/0"; };',
    ],
)
def test_a_remote_server_waits_for_the_network_to_be_online(
    evaluate: Evaluate, options: str
) -> None:
    evaluated = evaluate(options)
    for name in ALL_UNITS:
        unit = service(evaluated, name)
        assert unit["wants"] == ["network-online.target"], name
        assert "network-online.target" in unit["after"], name
        assert "Wants=network-online.target" in unit["unitFile"], name


def test_local_servers_order_after_them_without_network_online(evaluate: Evaluate) -> None:
    evaluated = evaluate()
    for name in ALL_UNITS:
        unit = service(evaluated, name)
        assert "network-online.target" not in unit["after"] + unit["wants"], name
        assert {"postgresql.target", "redis-fragrance-ai.service"} <= set(unit["after"]), name


# ---- migrations ------------------------------------------------------------------------------


def bash_syntax_ok(script: str) -> None:
    result = subprocess.run(
        ["bash", "-n"], input=script, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr


MIGRATE = f"{PACKAGE_BIN} migrate"


def test_migrate_is_retried_on_a_transient_failure_and_never_on_a_deterministic_one(
    evaluate: Evaluate,
) -> None:
    migrate = service(evaluate(), "fragrance-ai-migrate")
    bash_syntax_ok(migrate["script"])
    config = migrate["serviceConfig"]
    # Past the retries within one start, systemd tries again, backing off, for ever...
    assert config["Restart"] == "on-failure"
    assert (config["RestartSec"], config["RestartSteps"], config["RestartMaxDelaySec"]) == (
        "10s",
        5,
        "5min",
    )
    assert migrate["startLimitIntervalSec"] == 0
    assert "StartLimitIntervalSec=0\n" in migrate["unitFile"]
    # ...except after exit status 2: a schema newer than this version stays refused.
    assert config["RestartPreventExitStatus"] == 2
    assert config["TimeoutStartSec"] == "15min"
    # A late success starts the units whose start failed on it meanwhile.
    assert config["ExecStartPost"] == f"+{SYSTEMCTL} start --no-block fragrance-ai.target"
    for name in APP_UNITS:
        unit = service(evaluate(), name)
        assert "fragrance-ai-migrate.service" in unit["requires"], name
        assert "fragrance-ai-migrate.service" in unit["after"], name


def run_migrate_script(
    evaluate: Evaluate, tmp_path: Path, statuses: list[int], options: str = ""
) -> tuple[subprocess.CompletedProcess[str], list[str], Path]:
    """The unit's script, run by bash (with -e, as NixOS runs it), with `fragrance-ai`
    exiting with `statuses` one call after the other (then 0) and `sleep` recording the waits
    and moving bash's clock instead of waiting. Returns the result, the calls and dataDir."""
    script = service(evaluate(f'dataDir = "/var/lib/fa"; {options}'), "fragrance-ai-migrate")[
        "script"
    ]
    calls = tmp_path / "calls"
    fake = tmp_path / "fragrance-ai"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {calls}\n'
        f"statuses=({' '.join(map(str, statuses))})\n"
        f"status=${{statuses[$(($(wc -l < {calls}) - 1))]:-0}}\n"
        '[[ $status -eq 0 ]] && echo "database x is at revision 0007_seed"\n'
        'exit "$status"\n'
    )
    fake.chmod(0o755)
    data = tmp_path / "data"
    data.mkdir()
    script = script.replace(PACKAGE_BIN, str(fake)).replace("/var/lib/fa", str(data))
    result = subprocess.run(
        ["bash", "-e", "-c", 'sleep() { echo "slept $1"; SECONDS=$((SECONDS + $1)); }\n' + script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, calls.read_text().splitlines(), data


def test_an_unreachable_database_is_tried_again_within_the_start(
    evaluate: Evaluate, tmp_path: Path
) -> None:
    result, calls, data = run_migrate_script(evaluate, tmp_path, [75, 75, 0])
    assert result.returncode == 0, result.stderr
    assert calls == ["migrate --backup-if-pending"] * 3
    waits = [line for line in result.stdout.split("\n") if line.startswith("slept")]
    assert waits == ["slept 1", "slept 2"]
    assert "the database is not reachable yet; trying again in 1 s" in result.stderr
    assert (data / "schema-revision").read_text() == "0007_seed\n"


def test_an_unreachable_database_fails_the_start_after_two_minutes(
    evaluate: Evaluate, tmp_path: Path
) -> None:
    result, calls, data = run_migrate_script(evaluate, tmp_path, [75] * 50)
    # 1 + 2 + 4 + 8 + 16 + 30 + 30 + 30 s of waits: then the unit fails, and Restart= goes on.
    assert result.returncode == 75
    assert len(calls) == 9
    assert not (data / "schema-revision").exists()


@pytest.mark.parametrize("status", [2, 1])
def test_any_other_failure_fails_the_start_at_once(
    evaluate: Evaluate, tmp_path: Path, status: int
) -> None:
    # 2: deterministic (not restarted: RestartPreventExitStatus=2); 1: systemd tries again.
    result, calls, data = run_migrate_script(evaluate, tmp_path, [status])
    assert result.returncode == status
    assert calls == ["migrate --backup-if-pending"]
    assert "slept" not in result.stdout
    assert not (data / "schema-revision").exists()


def test_backup_before_migrate_defaults_to_the_local_database(evaluate: Evaluate) -> None:
    # Backed up by `migrate` itself when a migration is pending, never at every start.
    local = service(evaluate(), "fragrance-ai-migrate")
    assert f"$({MIGRATE} --backup-if-pending)" in local["script"]
    assert "db backup" not in local["script"]
    # pg_dump from the local server's package.
    assert local["path"] == ["/nix/store/00000000000000000000000000000000-postgresql-17.7"]
    remote = service(evaluate(EXTERNAL), "fragrance-ai-migrate")
    assert f"$({MIGRATE})" in remote["script"]
    assert remote["path"] == []
    forced_options = EXTERNAL + " database.backupBeforeMigrate = true;"
    forced = service(evaluate(forced_options), "fragrance-ai-migrate")
    assert f"$({MIGRATE} --backup-if-pending)" in forced["script"]


# ---- fragrance-ai-manage ---------------------------------------------------------------------


def manage_script(evaluated: dict[str, object]) -> str:
    packages = evaluated["systemPackages"]
    assert isinstance(packages, list)
    (manage,) = [p for p in packages if isinstance(p, dict) and p["name"] == "fragrance-ai-manage"]
    text: str = manage["text"]
    return text


def test_manage_runs_the_cli_as_the_service_runs(evaluate: Evaluate) -> None:
    evaluated = evaluate('secretsFile = "/run/secrets/fa.env"; settings.log_level = "DEBUG";')
    script = manage_script(evaluated)
    bash_syntax_ok(script)
    api = service(evaluated, "fragrance-ai-api")
    assert "/bin/systemd-run --quiet --wait --collect" in script
    assert script.rstrip().endswith(f'-- {PACKAGE_BIN} "$@"')
    for prop in (
        "User=fragrance-ai",
        "Group=fragrance-ai",
        "SupplementaryGroups=redis-fragrance-ai",
        # systemd reads the secrets, so the file may stay readable by root only.
        "EnvironmentFile=/run/secrets/fa.env",
        "WorkingDirectory=/var/lib/fragrance-ai",
    ):
        assert f"--property='{prop}'" in script, prop
    # The services' own environment, every variable of it.
    for name in ("DATABASE_URL", "REDIS_URL", "APP_ENV", "DATA_DIR", "LOG_LEVEL"):
        assert f"--setenv='{name}={api['environment'][name]}'" in script, name


def test_manage_follows_user_group_and_data_dir(evaluate: Evaluate) -> None:
    evaluated = evaluate('user = "perfume"; group = "perfumers"; dataDir = "/var/lib/perfume";')
    script = manage_script(evaluated)
    assert "--property='User=perfume'" in script
    assert "--property='Group=perfumers'" in script
    assert "--property='StateDirectory=perfume'" in script
    for name, unit in evaluated["services"].items():
        config = unit["serviceConfig"]
        assert (config["User"], config["Group"]) == ("perfume", "perfumers"), name
        assert config["StateDirectory"] == "perfume", name
        assert unit["environment"]["DATA_DIR"] == "/var/lib/perfume", name
        assert unit["environment"]["DATABASE_URL"].startswith("postgresql+psycopg:///perfume?")
    # The host's own user and group: the module creates neither.
    assert evaluated["users"]["users"] == {}
    assert evaluated["users"]["groups"] == {}
    owner = {"name": "perfume", "ensureDBOwnership": True}
    assert evaluated["postgresql"]["ensureUsers"] == [owner]
    assert "/var/lib/" in refused(evaluate, 'dataDir = "/srv/fragrance";')


# ---- watchdog --------------------------------------------------------------------------------


def test_a_unit_that_cannot_run_as_configured_is_not_restarted(evaluate: Evaluate) -> None:
    evaluated = evaluate()
    for name in APP_UNITS:
        config = service(evaluated, name)["serviceConfig"]
        assert config["Restart"] == "on-failure", name
    # 2: a configuration error or a schema newer than this version; 3: the app failed to start.
    api = service(evaluated, "fragrance-ai-api")["serviceConfig"]
    assert api["RestartPreventExitStatus"] == [2, 3]
    assert (
        "RestartPreventExitStatus=2\nRestartPreventExitStatus=3\n"
        in (service(evaluated, "fragrance-ai-api")["unitFile"])
    )
    for name in ("fragrance-ai-worker-llm-1", "fragrance-ai-worker-rl-1"):
        assert service(evaluated, name)["serviceConfig"]["RestartPreventExitStatus"] == 2


def test_watchdog_signal_and_core_limit_are_chosen(evaluate: Evaluate) -> None:
    evaluated = evaluate()
    for name in APP_UNITS:
        unit = service(evaluated, name)
        config = unit["serviceConfig"]
        assert config["WatchdogSignal"] == "SIGABRT", name
        assert config["TimeoutAbortSec"] == 30, name
        assert config["LimitCORE"] == 0, name
        assert unit["environment"]["PYTHONFAULTHANDLER"] == "1", name
    assert service(evaluated, "fragrance-ai-migrate")["serviceConfig"]["LimitCORE"] == 0


# ---- socket activation -----------------------------------------------------------------------


def test_the_api_takes_its_socket_from_systemd(evaluate: Evaluate) -> None:
    evaluated = evaluate('api = { host = "::"; port = 8443; workers = 4; };')
    socket = evaluated["sockets"]["fragrance-ai-api"]
    assert socket["listenStreams"] == ["[::]:8443"]
    assert socket["wantedBy"] == ["sockets.target"]
    api = service(evaluated, "fragrance-ai-api")
    assert api["serviceConfig"]["Sockets"] == ["fragrance-ai-api.socket"]
    assert "fragrance-ai-api.socket" in api["requires"]
    assert "fragrance-ai-api.socket" in api["after"]
    # A switch restarts it in one step, which keeps the socket; stop-then-start would close it.
    assert api["stopIfChanged"] is False
    # One socket whatever api.workers says: uvicorn's worker processes share it.
    assert list(evaluated["sockets"]) == ["fragrance-ai-api"]


def test_socket_activation_can_be_turned_off(evaluate: Evaluate) -> None:
    evaluated = evaluate("api.socketActivation = false;")
    assert evaluated["sockets"] == {}
    api = service(evaluated, "fragrance-ai-api")
    assert "Sockets" not in api["serviceConfig"]
    assert api["stopIfChanged"] is True
    assert "fragrance-ai-api.socket" not in api["requires"]
    # No socket to stop: RestartPreventExitStatus= alone ends the restarts.
    for name in ("fragrance-ai-api", "fragrance-ai-migrate"):
        assert "ExecStopPost" not in service(evaluated, name)["serviceConfig"], name


@pytest.mark.parametrize(
    ("host", "listen", "api_host"),
    [
        ("localhost", "127.0.0.1:8000", "127.0.0.1"),  # systemd resolves no names
        ("127.0.0.1", "127.0.0.1:8000", "127.0.0.1"),
        ("0.0.0.0", "0.0.0.0:8000", "0.0.0.0"),
        ("10.20.30.40", "10.20.30.40:8000", "10.20.30.40"),
        ("::1", "[::1]:8000", "::1"),
        ("[::1]", "[::1]:8000", "::1"),
        ("::", "[::]:8000", "::"),
        ("fd00::5", "[fd00::5]:8000", "fd00::5"),
    ],
)
def test_api_host_renders_what_systemd_listens_on(
    evaluate: Evaluate, host: str, listen: str, api_host: str
) -> None:
    evaluated = evaluate(f'api.host = "{host}";')
    (stream,) = evaluated["sockets"]["fragrance-ai-api"]["listenStreams"]
    assert stream == listen
    # systemd.socket(5): "v.w.x.y:z" or "[x]:y", with an address, never a name.
    address = stream.rsplit(":", 1)[0].strip("[]")
    assert ipaddress.ip_address(address)
    for name, unit in evaluated["services"].items():
        assert unit["environment"]["API_HOST"] == api_host, name


@pytest.mark.parametrize("host", ["api.internal", "my-host", "256.1.1.1", "1.2.3", "::1]"])
def test_a_name_systemd_cannot_listen_on_is_refused_with_the_option_named(
    evaluate_raw: EvaluateRaw, host: str
) -> None:
    messages = failed_assertions(evaluate_raw, f'api.host = "{host}";')
    assert any(
        m.startswith(f'services.fragrance-ai.api.host = "{host}"') and "ListenStream=" in m
        for m in messages
    ), messages
    # Without socket activation uvicorn binds it and resolves the name itself.
    options = f'api.host = "{host}"; api.socketActivation = false;'
    assert failed_assertions(evaluate_raw, options) == []


def run_stop_post(unit: dict[str, object], tmp_path: Path, **environment: str) -> str:
    """Runs the unit's ExecStopPost= script as systemd would after a stop, with `systemctl`
    recording its arguments; returns them."""
    config = unit["serviceConfig"]
    assert isinstance(config, dict)
    (command,) = config["ExecStopPost"]
    # "+": run with full privileges (systemctl stop needs them), outside the sandbox.
    assert command.startswith("+/nix/store/")
    script_path, argument = command.removeprefix("+").split(" ")
    assert argument == "%n"
    script = Path(script_path).read_text()
    calls = tmp_path / "systemctl-calls"
    fake = tmp_path / "systemctl"
    fake.write_text(f'#!/usr/bin/env bash\necho "$*" >> {calls}\n')
    fake.chmod(0o755)
    script = script.replace(SYSTEMCTL, str(fake))
    result = subprocess.run(
        ["bash", "-c", script, "stop-post", "fragrance-ai-api.service"],
        env={"PATH": "/usr/bin:/bin", **environment},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return calls.read_text() if calls.exists() else ""


@pytest.mark.parametrize("name", ["fragrance-ai-api", "fragrance-ai-migrate"])
@pytest.mark.parametrize(
    ("ended", "stops"),
    [
        ("exit-code exited 2", True),  # configuration error, schema newer than this version
        ("exit-code exited 3", True),  # the app failed to start
        ("exit-code exited 1", False),  # a crash: Restart= tries again
        ("exit-code exited 75", False),  # the database is not reachable yet
        ("watchdog dumped ABRT", False),
        ("signal killed KILL", False),  # the OOM killer
        ("success killed TERM", False),  # a normal stop
    ],
)
def test_a_deterministic_exit_stops_the_socket_so_connections_stop_restarting_the_api(
    evaluate: Evaluate, tmp_path: Path, name: str, ended: str, stops: bool
) -> None:
    # $SERVICE_RESULT, $EXIT_CODE, $EXIT_STATUS as systemd.exec(5) lists them.
    result, code, status = ended.split()
    unit = service(evaluate(), name)
    called = run_stop_post(
        unit, tmp_path, SERVICE_RESULT=result, EXIT_CODE=code, EXIT_STATUS=status
    )
    assert called == ("stop --no-block fragrance-ai-api.socket\n" if stops else "")


# ---- firewall --------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_opening_the_firewall_for_a_loopback_api_is_warned_about(
    evaluate: Evaluate, host: str
) -> None:
    evaluated = evaluate(f'openFirewall = true; api.host = "{host}";')
    assert len(evaluated["warnings"]) == 1
    assert "openFirewall opens port 8000" in evaluated["warnings"][0]
    assert "loopback" in evaluated["warnings"][0]
    assert evaluate('openFirewall = true; api.host = "10.0.0.5";')["warnings"] == []
    assert evaluate("openFirewall = true; nginx.enable = true;")["warnings"] == []


# ---- monitoring ------------------------------------------------------------------------------


def test_nothing_is_provisioned_without_prometheus_or_grafana(evaluate: Evaluate) -> None:
    evaluated = evaluate()
    assert evaluated["prometheus"]["scrapeConfigs"] == []
    assert evaluated["prometheus"]["ruleFiles"] == []
    assert evaluated["grafana"]["provision"]["enable"] is False
    assert evaluated["grafana"]["provision"]["dashboards"]["settings"] is None


def test_prometheus_scrapes_the_api_and_every_worker_replica(evaluate_raw: EvaluateRaw) -> None:
    evaluated = evaluate_raw(
        "{ services.prometheus.enable = true; services.fragrance-ai = { enable = true; "
        'api = { host = "0.0.0.0"; port = 8080; }; '
        "workers.llm = { replicas = 2; metricsPort = 9101; }; workers.rl.metricsPort = 9201; }; }"
    )
    prometheus = evaluated["prometheus"]
    jobs = {job["job_name"]: job["static_configs"] for job in prometheus["scrapeConfigs"]}
    assert jobs["fragrance-ai-api"] == [{"targets": ["127.0.0.1:8080"]}]
    assert sorted(jobs["fragrance-ai-workers"], key=lambda c: c["labels"]["group"]) == [
        {"labels": {"group": "llm"}, "targets": ["127.0.0.1:9101", "127.0.0.1:9102"]},
        {"labels": {"group": "rl"}, "targets": ["127.0.0.1:9201"]},
    ]
    assert prometheus["ruleFiles"] == [str(CONFIGS / "prometheus" / "rules.yml")]


def test_grafana_gets_the_dashboards_and_the_local_prometheus(evaluate_raw: EvaluateRaw) -> None:
    evaluated = evaluate_raw(
        "{ services.grafana.enable = true; services.prometheus = { enable = true; port = 9091; }; "
        "services.fragrance-ai.enable = true; }"
    )
    provision = evaluated["grafana"]["provision"]
    assert provision["enable"] is True
    (provider,) = provision["dashboards"]["settings"]["providers"]
    assert provider["options"]["path"] == str(CONFIGS / "grafana")
    (source,) = provision["datasources"]["settings"]["datasources"]
    assert (source["type"], source["url"]) == ("prometheus", "http://127.0.0.1:9091")
    alone = evaluate_raw("{ services.grafana.enable = true; services.fragrance-ai.enable = true; }")
    assert alone["grafana"]["provision"]["datasources"]["settings"] is None


def test_the_provisioned_files_exist() -> None:
    assert (CONFIGS / "prometheus" / "rules.yml").is_file()
    assert list((CONFIGS / "grafana").glob("*.json"))

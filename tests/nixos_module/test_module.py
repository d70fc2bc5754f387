"""services.fragrance-ai, evaluated with nixpkgs' lib: every option and what it does to the
units, users, PostgreSQL, Redis, nginx and the firewall."""

from __future__ import annotations

from typing import Any

import pytest

from tests.nixos_module.conftest import Evaluate, EvaluateRaw, EvaluationError

PACKAGE_BIN = "/nix/store/00000000000000000000000000000000-fragrance-ai-0.1.0/bin/fragrance-ai"
APP_UNITS = ["fragrance-ai-api", "fragrance-ai-worker-llm-1", "fragrance-ai-worker-rl-1"]


def service(evaluated: dict[str, Any], name: str) -> dict[str, Any]:
    unit: dict[str, Any] = evaluated["services"][name]
    return unit


def refused(evaluate: Evaluate, options: str) -> str:
    with pytest.raises(EvaluationError) as error:
        evaluate(options)
    return str(error.value)


def failed_assertions(evaluate_raw: EvaluateRaw, options: str) -> list[str]:
    evaluated = evaluate_raw(f"{{ services.fragrance-ai = {{ enable = true; {options} }}; }}")
    messages: list[str] = evaluated["assertions"]
    return messages


# ---- the default host ------------------------------------------------------------------------


def test_disabled_module_defines_nothing(evaluate_raw: EvaluateRaw) -> None:
    evaluated = evaluate_raw("{ }")
    assert evaluated["services"] == {}
    assert evaluated["targets"] == {}
    assert evaluated["users"]["users"] == {}
    assert evaluated["postgresql"] == {}
    assert evaluated["redis"] == {}


def test_default_units_under_one_target(evaluate: Evaluate) -> None:
    evaluated = evaluate()
    assert sorted(evaluated["services"]) == sorted(["fragrance-ai-migrate", *APP_UNITS])
    assert evaluated["targets"]["fragrance-ai"]["wantedBy"] == ["multi-user.target"]
    for name, unit in evaluated["services"].items():
        assert unit["wantedBy"] == ["fragrance-ai.target"], name
        assert unit["partOf"] == ["fragrance-ai.target"], name
        assert unit["serviceConfig"]["Slice"] == "fragrance-ai.slice", name


def test_package_provides_every_command(evaluate: Evaluate) -> None:
    evaluated = evaluate()
    commands = {
        name: unit["serviceConfig"]["ExecStart"]
        for name, unit in evaluated["services"].items()
        if name != "fragrance-ai-migrate"
    }
    assert (
        f"$({PACKAGE_BIN} migrate --backup-if-pending)"
        in service(evaluated, "fragrance-ai-migrate")["script"]
    )
    assert commands == {
        "fragrance-ai-api": f"{PACKAGE_BIN} serve",
        "fragrance-ai-worker-llm-1": f"{PACKAGE_BIN} worker llm --queue llm_inference",
        "fragrance-ai-worker-rl-1": f"{PACKAGE_BIN} worker rl --queue rl_training",
    }


def test_package_has_no_default(evaluate_raw: EvaluateRaw) -> None:
    # The flake sets it with mkDefault; a plain import of the module must name one.
    with pytest.raises(EvaluationError) as error:
        evaluate_raw(
            "{ lib, ... }: { services.fragrance-ai = { enable = true; "
            'package = lib.mkForce (throw "no package"); }; }'
        )
    assert "no package" in str(error.value)
    custom = evaluate_raw(
        '{ services.fragrance-ai = { enable = true; package = { type = "derivation"; '
        'name = "fa"; outPath = "/nix/store/11111111111111111111111111111111-fa"; }; }; }'
    )
    assert service(custom, "fragrance-ai-api")["serviceConfig"]["ExecStart"] == (
        "/nix/store/11111111111111111111111111111111-fa/bin/fragrance-ai serve"
    )


def test_dedicated_user_owns_state_and_cache(evaluate: Evaluate) -> None:
    evaluated = evaluate()
    assert evaluated["users"]["users"]["fragrance-ai"] == {
        "isSystemUser": True,
        "group": "fragrance-ai",
        "home": "/var/lib/fragrance-ai",
        "description": "Fragrance AI",
    }
    assert "fragrance-ai" in evaluated["users"]["groups"]
    for name, unit in evaluated["services"].items():
        config = unit["serviceConfig"]
        assert (config["User"], config["Group"]) == ("fragrance-ai", "fragrance-ai"), name
        assert config["StateDirectory"] == "fragrance-ai"
        assert config["CacheDirectory"] == "fragrance-ai"
        assert unit["environment"]["DATA_DIR"] == "/var/lib/fragrance-ai"
        assert unit["environment"]["XDG_CACHE_HOME"] == "/var/cache/fragrance-ai"


# ---- profile, settings, secrets -------------------------------------------------------------


def test_profile_is_app_env(evaluate: Evaluate) -> None:
    assert service(evaluate(), "fragrance-ai-api")["environment"]["APP_ENV"] == "production"
    staging = evaluate('profile = "staging";')
    assert {u["environment"]["APP_ENV"] for u in staging["services"].values()} == {"staging"}
    assert "is not of type `one of" in refused(evaluate, 'profile = "qa";')


def test_settings_render_to_the_environment(evaluate: Evaluate) -> None:
    evaluated = evaluate(
        """settings = {
             log_level = "DEBUG";
             queue.job_timeout_s = 900;
             queue.retry_intervals_s = [ 5 30 ];
             designer = { variants = 3; };
             llm.roles.parser.model_path = "/var/lib/models/parser";
             llm.breaker.reset_after_s = 1.5;
             some_flag = true;
             unset = null;
           };"""
    )
    environment = service(evaluated, "fragrance-ai-worker-rl-1")["environment"]
    assert environment["LOG_LEVEL"] == "DEBUG"
    assert environment["QUEUE__JOB_TIMEOUT_S"] == "900"
    assert environment["QUEUE__RETRY_INTERVALS_S"] == "[5,30]"
    assert environment["DESIGNER__VARIANTS"] == "3"
    assert environment["LLM__ROLES__PARSER__MODEL_PATH"] == "/var/lib/models/parser"
    assert environment["LLM__BREAKER__RESET_AFTER_S"] == "1.500000"
    assert environment["SOME_FLAG"] == "true"
    assert "UNSET" not in environment
    # Every unit reads the same settings; a job timeout also sets the workers' stop timeout.
    assert service(evaluated, "fragrance-ai-api")["environment"]["LOG_LEVEL"] == "DEBUG"
    assert service(evaluated, "fragrance-ai-worker-rl-1")["serviceConfig"]["TimeoutStopSec"] == 960


@pytest.mark.parametrize(
    "key", ["database_url", "REDIS_URL", "api_port", "app_env", "data_dir", "worker_metrics_port"]
)
def test_settings_may_not_set_what_options_own(evaluate_raw: EvaluateRaw, key: str) -> None:
    messages = failed_assertions(evaluate_raw, f'settings.{key} = "x";')
    assert any(key.lower() in m and "module's own options" in m for m in messages), messages


def test_secrets_file_is_read_at_runtime(evaluate: Evaluate) -> None:
    evaluated = evaluate('secretsFile = "/run/secrets/fragrance-ai.env";')
    for name, unit in evaluated["services"].items():
        assert unit["serviceConfig"]["EnvironmentFile"] == ["/run/secrets/fragrance-ai.env"], name
    assert service(evaluate(), "fragrance-ai-api")["serviceConfig"]["EnvironmentFile"] == []


@pytest.mark.parametrize(
    "value",
    [
        '"/nix/store/00000000000000000000000000000000-secrets.env"',
        "./secrets.env",  # a path literal would be copied into the store
        '"secrets.env"',
    ],
)
def test_secrets_file_refuses_the_store_and_relative_paths(evaluate: Evaluate, value: str) -> None:
    message = refused(evaluate, f"secretsFile = {value};")
    assert "secretsFile" in message
    assert "absolute path not in the Nix store" in message


# ---- the API ---------------------------------------------------------------------------------


def test_api_address_and_workers(evaluate: Evaluate) -> None:
    evaluated = evaluate('api = { host = "0.0.0.0"; port = 9000; workers = 4; };')
    api = service(evaluated, "fragrance-ai-api")
    assert api["environment"]["API_HOST"] == "0.0.0.0"
    assert api["environment"]["API_PORT"] == "9000"
    assert api["environment"]["API_WORKERS"] == "4"
    assert api["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/run/fragrance-ai-api/metrics"
    assert api["serviceConfig"]["RuntimeDirectory"] == "fragrance-ai-api"
    single = service(evaluate(), "fragrance-ai-api")["environment"]
    assert "PROMETHEUS_MULTIPROC_DIR" not in single, "one process needs no multiprocess metrics"
    # 2 CPUs and 2 GB per API worker process, by default.
    assert api["serviceConfig"]["MemoryMax"] == "8G"
    assert api["serviceConfig"]["CPUQuota"] == "800%"
    assert "between 1 and 64" in refused(evaluate, "api.workers = 65;")
    assert "16 bit unsigned" in refused(evaluate, "api.port = 70000;")


def test_default_limits(evaluate: Evaluate) -> None:
    evaluated = evaluate()
    limits = {
        name: {
            key: unit["serviceConfig"][key]
            for key in ("MemoryMax", "CPUQuota", "TasksMax", "LimitNOFILE")
        }
        for name, unit in evaluated["services"].items()
        if name != "fragrance-ai-migrate"
    }
    assert limits == {
        "fragrance-ai-api": {
            "MemoryMax": "2G",
            "CPUQuota": "200%",
            "TasksMax": 512,
            "LimitNOFILE": 16384,
        },
        "fragrance-ai-worker-llm-1": {
            "MemoryMax": "8G",
            "CPUQuota": "400%",
            "TasksMax": 1024,
            "LimitNOFILE": 16384,
        },
        "fragrance-ai-worker-rl-1": {
            "MemoryMax": "8G",
            "CPUQuota": "400%",
            "TasksMax": 1024,
            "LimitNOFILE": 16384,
        },
    }


def test_api_limits_and_health_options(evaluate: Evaluate) -> None:
    evaluated = evaluate(
        'api = { memoryMax = "3G"; cpuQuota = "150%"; tasksMax = 64; limitNOFILE = 4096; '
        "watchdogSec = 10; startTimeoutSec = 45; stopTimeoutSec = 20; };"
    )
    config = service(evaluated, "fragrance-ai-api")["serviceConfig"]
    assert config["MemoryMax"] == "3G"
    assert config["CPUQuota"] == "150%"
    assert config["TasksMax"] == 64
    assert config["LimitNOFILE"] == 4096
    assert config["WatchdogSec"] == 10
    assert config["TimeoutStartSec"] == 45
    assert config["TimeoutStopSec"] == 20


@pytest.mark.parametrize(
    "options",
    ['api.memoryMax = "lots";', 'api.cpuQuota = "2";', "api.tasksMax = 0;", "api.watchdogSec = 0;"],
)
def test_limits_are_checked(evaluate: Evaluate, options: str) -> None:
    assert "is not of type" in refused(evaluate, options)


@pytest.mark.parametrize("memory", ["512M", "16G", "75%", "12.5%", "infinity", "1073741824"])
def test_memory_sizes_systemd_accepts(evaluate: Evaluate, memory: str) -> None:
    evaluated = evaluate(f'api.memoryMax = "{memory}";')
    assert service(evaluated, "fragrance-ai-api")["serviceConfig"]["MemoryMax"] == memory


# ---- health checks -------------------------------------------------------------------------


def test_health_checks_are_notify_units_with_a_watchdog_and_back_off(evaluate: Evaluate) -> None:
    evaluated = evaluate()
    for name in APP_UNITS:
        unit = service(evaluated, name)
        config = unit["serviceConfig"]
        assert config["Type"] == "notify", name
        assert config["Restart"] == "on-failure", name
        assert config["RestartSec"] == "1s", name
        assert config["RestartSteps"] == 10, name
        assert config["RestartMaxDelaySec"] == "2min", name
        assert unit["startLimitIntervalSec"] == 0, name
    api = service(evaluated, "fragrance-ai-api")["serviceConfig"]
    assert (api["WatchdogSec"], api["TimeoutStartSec"], api["TimeoutStopSec"]) == (30, 120, 30)
    # uvicorn's worker processes are children of the main process.
    assert api["NotifyAccess"] == "all"
    worker = service(evaluated, "fragrance-ai-worker-llm-1")["serviceConfig"]
    assert (worker["WatchdogSec"], worker["TimeoutStartSec"]) == (120, 600)
    # A warm shutdown lets the running job (600 s by default) finish.
    assert (worker["KillSignal"], worker["TimeoutStopSec"]) == ("SIGTERM", 660)
    assert worker["NotifyAccess"] == "main"


def test_migrations_run_once_before_the_api_and_workers(evaluate: Evaluate) -> None:
    evaluated = evaluate()
    migrate = service(evaluated, "fragrance-ai-migrate")
    assert migrate["serviceConfig"]["Type"] == "oneshot"
    assert migrate["serviceConfig"]["RemainAfterExit"] is True
    assert migrate["after"] == ["network.target", "postgresql.target", "redis-fragrance-ai.service"]
    assert migrate["wants"] == [], "local servers need no network-online.target"
    for name in APP_UNITS:
        unit = service(evaluated, name)
        assert "fragrance-ai-migrate.service" in unit["after"], name
        assert "fragrance-ai-migrate.service" in unit["requires"], name


# ---- workers ---------------------------------------------------------------------------------


def test_replicas_are_named_units(evaluate: Evaluate) -> None:
    evaluated = evaluate("workers.llm.replicas = 3; workers.rl.replicas = 2;")
    assert sorted(evaluated["services"]) == [
        "fragrance-ai-api",
        "fragrance-ai-migrate",
        "fragrance-ai-worker-llm-1",
        "fragrance-ai-worker-llm-2",
        "fragrance-ai-worker-llm-3",
        "fragrance-ai-worker-rl-1",
        "fragrance-ai-worker-rl-2",
    ]
    assert service(evaluated, "fragrance-ai-worker-llm-3")["description"] == (
        "Fragrance AI worker llm #3 (llm_inference)"
    )
    assert "positive integer" in refused(evaluate, "workers.llm.replicas = 0;")


def test_setting_one_group_keeps_the_other(evaluate: Evaluate) -> None:
    evaluated = evaluate("workers.llm.replicas = 2;")
    assert "fragrance-ai-worker-rl-1" in evaluated["services"]
    assert sorted(evaluated["cfg"]["workers"]) == ["llm", "rl"]


def test_a_group_can_be_disabled(evaluate: Evaluate) -> None:
    evaluated = evaluate("workers.rl.enable = false;")
    assert not any(name.startswith("fragrance-ai-worker-rl") for name in evaluated["services"])


def test_groups_with_their_own_queues(evaluate: Evaluate) -> None:
    evaluated = evaluate(
        'workers.batch = { queues = [ "rl_training" "llm_inference" ]; replicas = 2; };'
    )
    batch = service(evaluated, "fragrance-ai-worker-batch-2")
    assert batch["serviceConfig"]["ExecStart"] == (
        f"{PACKAGE_BIN} worker rl --queue rl_training --queue llm_inference"
    )
    assert "is not of type `one of" in refused(evaluate, 'workers.llm.queues = [ "default" ];')


def test_invalid_worker_groups_fail_assertions(evaluate_raw: EvaluateRaw) -> None:
    messages = failed_assertions(evaluate_raw, "workers.extra = { };")
    assert any("workers.extra.queues: name at least one" in m for m in messages), messages
    messages = failed_assertions(evaluate_raw, 'workers."Big_GPU".queues = [ "llm_inference" ];')
    assert any("workers.Big_GPU: a worker group's name" in m for m in messages), messages
    messages = failed_assertions(
        evaluate_raw, "workers.llm.enable = false; workers.rl.enable = false;"
    )
    assert any("enable at least one worker group" in m for m in messages), messages


def test_worker_limits_per_group(evaluate: Evaluate) -> None:
    evaluated = evaluate(
        'workers.rl = { memoryMax = "16G"; cpuQuota = "800%"; tasksMax = 2048; limitNOFILE = 1024; '
        "watchdogSec = 300; startTimeoutSec = 900; stopTimeoutSec = 3600; };"
    )
    rl = service(evaluated, "fragrance-ai-worker-rl-1")["serviceConfig"]
    assert (rl["MemoryMax"], rl["CPUQuota"], rl["TasksMax"], rl["LimitNOFILE"]) == (
        "16G",
        "800%",
        2048,
        1024,
    )
    assert (rl["WatchdogSec"], rl["TimeoutStartSec"], rl["TimeoutStopSec"]) == (300, 900, 3600)
    llm = service(evaluated, "fragrance-ai-worker-llm-1")["serviceConfig"]
    assert (llm["MemoryMax"], llm["CPUQuota"]) == ("8G", "400%")


def test_worker_environment_and_metrics_ports(evaluate: Evaluate) -> None:
    evaluated = evaluate(
        'workers.llm = { replicas = 2; metricsPort = 9101; environment.OMP_NUM_THREADS = "4"; };'
    )
    first = service(evaluated, "fragrance-ai-worker-llm-1")["environment"]
    second = service(evaluated, "fragrance-ai-worker-llm-2")["environment"]
    assert (first["WORKER_METRICS_PORT"], second["WORKER_METRICS_PORT"]) == ("9101", "9102")
    assert first["OMP_NUM_THREADS"] == "4"
    assert (
        "WORKER_METRICS_PORT" not in service(evaluated, "fragrance-ai-worker-rl-1")["environment"]
    )
    assert "OMP_NUM_THREADS" not in service(evaluated, "fragrance-ai-worker-rl-1")["environment"]


def test_metrics_ports_may_not_overlap(evaluate_raw: EvaluateRaw) -> None:
    messages = failed_assertions(
        evaluate_raw,
        "workers.llm = { replicas = 2; metricsPort = 9101; }; workers.rl.metricsPort = 9102;",
    )
    assert any("metricsPort" in m and "overlap" in m for m in messages), messages
    messages = failed_assertions(evaluate_raw, "workers.rl.metricsPort = 8000;")
    assert any("overlap each other or api.port" in m for m in messages), messages


# ---- GPU -------------------------------------------------------------------------------------


def test_cpu_workers_see_no_devices(evaluate: Evaluate) -> None:
    evaluated = evaluate()
    for name, unit in evaluated["services"].items():
        config = unit["serviceConfig"]
        assert config["PrivateDevices"] is True, name
        assert config["DevicePolicy"] == "closed", name
        assert "DeviceAllow" not in config, name
        assert "LLM__DEVICE" not in unit["environment"], name
        assert "CUDA_VISIBLE_DEVICES" not in unit["environment"], name
    assert evaluated["hardware"]["graphics"]["enable"] is False


CUDA_BIN = "/nix/store/cccccccccccccccccccccccccccccccc-fragrance-ai-cuda-0.1.0/bin/fragrance-ai"
# What CUDA needs beside a replica's own GPUs (hardening.nix's gpu).
CUDA_COMMON = [
    "/dev/nvidiactl rw",
    "/dev/nvidia-uvm rw",
    "/dev/nvidia-uvm-tools rw",
    "char-nvidia-caps r",
]


def test_gpu_replicas_each_see_only_their_own_gpu_and_nobody_else_sees_any(
    evaluate: Evaluate,
) -> None:
    evaluated = evaluate("workers.llm = { gpu = true; replicas = 2; };")
    for index in (1, 2):
        unit = service(evaluated, f"fragrance-ai-worker-llm-{index}")
        config = unit["serviceConfig"]
        assert config["PrivateDevices"] is False
        assert config["DevicePolicy"] == "closed"
        # One GPU per replica by default, replica i on GPU i-1: never all on device 0, and
        # none may open another's device node.
        assert config["DeviceAllow"] == [f"/dev/nvidia{index - 1} rw", *CUDA_COMMON]
        environment = unit["environment"]
        assert environment["CUDA_VISIBLE_DEVICES"] == str(index - 1)
        assert environment["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
        assert environment["LLM__DEVICE"] == "cuda"
        assert environment["CUDA_CACHE_PATH"] == "/var/cache/fragrance-ai/nv"
        assert f"DeviceAllow=/dev/nvidia{index - 1} rw\n" in unit["unitFile"]
    rl = service(evaluated, "fragrance-ai-worker-rl-1")
    assert "CUDA_VISIBLE_DEVICES" not in rl["environment"]
    assert "CUDA_DEVICE_ORDER" not in rl["environment"]
    for name in ("fragrance-ai-api", "fragrance-ai-worker-rl-1", "fragrance-ai-migrate"):
        config = service(evaluated, name)["serviceConfig"]
        assert config["PrivateDevices"] is True, name
        assert "DeviceAllow" not in config, name
    assert evaluated["hardware"]["graphics"]["enable"] is True


def test_an_explicit_device_setting_wins(evaluate: Evaluate) -> None:
    evaluated = evaluate('workers.llm.gpu = true; settings.llm.device = "auto";')
    environment = service(evaluated, "fragrance-ai-worker-llm-1")["environment"]
    assert environment["LLM__DEVICE"] == "auto"


def test_gpu_devices_give_each_replica_its_entry(evaluate: Evaluate) -> None:
    evaluated = evaluate(
        'workers.llm = { gpu = true; replicas = 3; gpuDevices = [ "1" "0" "2,3" ]; };'
    )
    units = [service(evaluated, f"fragrance-ai-worker-llm-{i}") for i in (1, 2, 3)]
    assert [u["environment"]["CUDA_VISIBLE_DEVICES"] for u in units] == ["1", "0", "2,3"]
    assert [u["serviceConfig"]["DeviceAllow"][:-4] for u in units] == [
        ["/dev/nvidia1 rw"],
        ["/dev/nvidia0 rw"],
        ["/dev/nvidia2 rw", "/dev/nvidia3 rw"],
    ]


def test_more_replicas_than_declared_gpus_are_refused(evaluate_raw: EvaluateRaw) -> None:
    messages = failed_assertions(
        evaluate_raw, 'workers.llm = { gpu = true; replicas = 3; gpuDevices = [ "0" "1" ]; };'
    )
    assert any(
        m.startswith("services.fragrance-ai.workers.llm: replicas = 3, but gpuDevices declares 2")
        for m in messages
    ), messages


@pytest.mark.parametrize("entry", ["GPU-8a5e4c2f", "0,", "cuda:0", ""])
def test_gpu_devices_are_indices(evaluate: Evaluate, entry: str) -> None:
    # A UUID names no device node, so it could not be the only one the replica opens.
    message = refused(evaluate, f'workers.llm = {{ gpu = true; gpuDevices = [ "{entry}" ]; }};')
    assert "gpuDevices" in message
    assert "is not of type" in message


def test_gpu_devices_need_gpu(evaluate_raw: EvaluateRaw) -> None:
    messages = failed_assertions(evaluate_raw, 'workers.llm.gpuDevices = [ "0" ];')
    assert any("gpuDevices is set but gpu is false" in m for m in messages), messages


def test_a_gpu_group_runs_the_cuda_package(evaluate: Evaluate) -> None:
    # eval.nix sets cudaPackage as the flake's nixosModules.default does on x86_64-linux.
    evaluated = evaluate("workers.llm.gpu = true;")
    command = service(evaluated, "fragrance-ai-worker-llm-1")["serviceConfig"]["ExecStart"]
    assert command == f"{CUDA_BIN} worker llm --queue llm_inference"
    for name in ("fragrance-ai-api", "fragrance-ai-worker-rl-1"):
        assert service(evaluated, name)["serviceConfig"]["ExecStart"].startswith(PACKAGE_BIN)


def test_a_gpu_group_on_the_cpu_build_is_refused_with_what_to_set(
    evaluate_raw: EvaluateRaw,
) -> None:
    # aarch64, or a module imported without the flake's: no CUDA build to default to.
    messages = failed_assertions(evaluate_raw, "cudaPackage = null; workers.llm.gpu = true;")
    (message,) = [m for m in messages if "gpu = true" in m]
    assert message.startswith("services.fragrance-ai.workers.llm: gpu = true, but its package")
    assert "Set services.fragrance-ai.cudaPackage" in message
    assert failed_assertions(evaluate_raw, "cudaPackage = null;") == []


def test_a_cuda_build_as_the_package_of_everything_is_accepted_when_named(
    evaluate_raw: EvaluateRaw,
) -> None:
    cuda = (
        '{ type = "derivation"; name = "fa-cuda"; '
        'outPath = "/nix/store/22222222222222222222222222222222-fa-cuda"; }'
    )
    options = f"package = {cuda}; workers.llm.gpu = true;"
    assert failed_assertions(evaluate_raw, options + " cudaPackage = null;") != []
    assert failed_assertions(evaluate_raw, options + f" cudaPackage = {cuda};") == []


# ---- database and Redis ----------------------------------------------------------------------


def test_create_locally_provisions_postgresql_and_redis(evaluate: Evaluate) -> None:
    evaluated = evaluate()
    assert evaluated["postgresql"] == {
        "enable": True,
        "ensureDatabases": ["fragrance-ai"],
        "ensureUsers": [{"name": "fragrance-ai", "ensureDBOwnership": True}],
    }
    redis = evaluated["redis"]["fragrance-ai"]
    assert (redis["enable"], redis["port"]) == (True, 0)
    for name, unit in evaluated["services"].items():
        environment = unit["environment"]
        assert (
            environment["DATABASE_URL"] == "postgresql+psycopg:///fragrance-ai?host=/run/postgresql"
        )
        assert environment["REDIS_URL"] == "unix:///run/redis-fragrance-ai/redis.sock?db=0"
        assert unit["serviceConfig"]["SupplementaryGroups"] == ["redis-fragrance-ai"], name
        assert "postgresql.target" in unit["requires"], name
        assert "redis-fragrance-ai.service" in unit["requires"], name


def test_external_database_and_redis(evaluate: Evaluate) -> None:
    evaluated = evaluate(
        "database = { createLocally = false; "
        'url = "postgresql+psycopg://fragrance@db.internal/fragrance"; }; '
        'redis = { createLocally = false; url = "redis://redis.internal:6379/0"; };'
    )
    assert evaluated["postgresql"] == {}
    assert evaluated["redis"] == {}
    api = service(evaluated, "fragrance-ai-api")
    assert (
        api["environment"]["DATABASE_URL"] == "postgresql+psycopg://fragrance@db.internal/fragrance"
    )
    assert api["environment"]["REDIS_URL"] == "redis://redis.internal:6379/0"
    assert api["serviceConfig"]["SupplementaryGroups"] == []
    assert api["requires"] == ["fragrance-ai-migrate.service", "fragrance-ai-api.socket"]
    assert evaluated["warnings"] == []


def test_urls_may_come_from_the_secrets_file(evaluate: Evaluate) -> None:
    evaluated = evaluate(
        "database.createLocally = false; redis.createLocally = false; "
        'secretsFile = "/run/keys/env";'
    )
    environment = service(evaluated, "fragrance-ai-api")["environment"]
    assert "DATABASE_URL" not in environment
    assert "REDIS_URL" not in environment


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            'database.url = "postgresql+psycopg://x@h/db";',
            "database: set createLocally or url, not both",
        ),
        (
            "database.createLocally = false;",
            "database: without createLocally, set url or put DATABASE_URL",
        ),
        ('redis.url = "redis://h/0";', "redis: set createLocally or url, not both"),
        ("redis.createLocally = false;", "redis: without createLocally, set url or put REDIS_URL"),
    ],
)
def test_database_and_redis_combinations(
    evaluate_raw: EvaluateRaw, options: str, expected: str
) -> None:
    messages = failed_assertions(evaluate_raw, options)
    assert any(expected in m for m in messages), messages


def test_passwords_in_urls_are_warned_about(evaluate: Evaluate) -> None:
    evaluated = evaluate(
        "database = { createLocally = false; "
        'url = "postgresql+psycopg://fragrance:hunter2@db/fragrance"; }; '
        'redis = { createLocally = false; url = "redis://:hunter2@redis:6379/0"; };'
    )
    assert len(evaluated["warnings"]) == 2
    assert "database.url holds a password" in evaluated["warnings"][0]
    assert "redis.url holds a password" in evaluated["warnings"][1]


# ---- network ---------------------------------------------------------------------------------


def test_firewall(evaluate: Evaluate) -> None:
    assert evaluate()["firewall"]["allowedTCPPorts"] == []
    opened = evaluate('openFirewall = true; api = { host = "0.0.0.0"; port = 8080; };')
    assert opened["firewall"]["allowedTCPPorts"] == [8080]
    assert opened["warnings"] == []
    behind_nginx = evaluate("openFirewall = true; nginx.enable = true;")
    assert behind_nginx["firewall"]["allowedTCPPorts"] == [80, 443]


def test_nginx_is_the_load_balancer(evaluate: Evaluate) -> None:
    assert evaluate()["nginx"] == {}
    evaluated = evaluate(
        'nginx = { enable = true; virtualHost = "fragrance.example.com"; enableACME = true; };'
        "api.port = 8001;"
    )
    nginx = evaluated["nginx"]
    assert nginx["enable"] is True
    assert nginx["recommendedProxySettings"] is True
    host = nginx["virtualHosts"]["fragrance.example.com"]
    assert (host["enableACME"], host["forceSSL"]) == (True, True)
    assert host["locations"]["/"]["proxyPass"] == "http://127.0.0.1:8001"
    assert host["locations"]["= /metrics"]["return"] == "404"


def test_nginx_defaults(evaluate: Evaluate) -> None:
    evaluated = evaluate('nginx.enable = true; api.host = "::1";')
    host = evaluated["nginx"]["virtualHosts"]["gpu-host-1"]  # networking.fqdnOrHostName
    assert (host["enableACME"], host["forceSSL"]) == (False, False)
    assert host["locations"]["/"]["proxyPass"] == "http://[::1]:8000"
    plain_https = evaluate("nginx = { enable = true; forceSSL = true; };")
    assert plain_https["nginx"]["virtualHosts"]["gpu-host-1"]["forceSSL"] is True


def test_nginx_wants_the_api_on_loopback(evaluate_raw: EvaluateRaw) -> None:
    messages = failed_assertions(evaluate_raw, 'nginx.enable = true; api.host = "0.0.0.0";')
    assert any("keep api.host on loopback" in m for m in messages), messages


# ---- slice -----------------------------------------------------------------------------------


def test_slice_budget(evaluate: Evaluate) -> None:
    default = evaluate()["slices"]["fragrance-ai"]
    assert default["sliceConfig"] == {"MemoryMax": "80%"}
    evaluated = evaluate('slice = { memoryMax = "48G"; cpuQuota = "1200%"; };')
    assert evaluated["slices"]["fragrance-ai"]["sliceConfig"] == {
        "MemoryMax": "48G",
        "CPUQuota": "1200%",
    }
    unlimited = evaluate("slice.memoryMax = null;")
    assert unlimited["slices"]["fragrance-ai"]["sliceConfig"] == {}


# ---- hardening (the scores are in test_hardening.py) ----------------------------------------


def test_shared_hardening(evaluate: Evaluate) -> None:
    evaluated = evaluate()
    for name, unit in evaluated["services"].items():
        config = unit["serviceConfig"]
        assert config["ProtectSystem"] == "strict", name
        assert config["ProtectHome"] is True, name
        assert config["PrivateTmp"] is True, name
        assert config["NoNewPrivileges"] is True, name
        assert config["CapabilityBoundingSet"] == [""], name
        assert config["RestrictAddressFamilies"] == ["AF_UNIX", "AF_INET", "AF_INET6"], name
        assert config["UMask"] == "0077", name
        assert config["SystemCallFilter"][0] == "@system-service", name
        # prometheus-client (process_* metrics) and torch read /proc/stat, cpuinfo, meminfo.
        assert config["ProcSubset"] == "all", name
        assert config["ProtectProc"] == "invisible", name
        assert "~@privileged" in config["SystemCallFilter"], name


def test_torch_exceptions_apply_to_workers_only(evaluate: Evaluate) -> None:
    evaluated = evaluate()
    api = service(evaluated, "fragrance-ai-api")["serviceConfig"]
    assert api["MemoryDenyWriteExecute"] is True
    assert "~@resources" in api["SystemCallFilter"]
    for name in ("fragrance-ai-worker-llm-1", "fragrance-ai-worker-rl-1"):
        config = service(evaluated, name)["serviceConfig"]
        assert config["MemoryDenyWriteExecute"] is False
        assert "@resources" in config["SystemCallFilter"]


def test_a_group_may_run_its_own_package(evaluate: Evaluate) -> None:
    evaluated = evaluate(
        'workers.llm = { gpu = true; package = { type = "derivation"; name = "fa-cuda"; '
        'outPath = "/nix/store/22222222222222222222222222222222-fa-cuda"; }; };'
    )
    llm = service(evaluated, "fragrance-ai-worker-llm-1")["serviceConfig"]["ExecStart"]
    assert llm.startswith("/nix/store/22222222222222222222222222222222-fa-cuda/bin/fragrance-ai ")
    for name in ("fragrance-ai-api", "fragrance-ai-worker-rl-1"):
        assert service(evaluated, name)["serviceConfig"]["ExecStart"].startswith(PACKAGE_BIN)
    assert (
        f"$({PACKAGE_BIN} migrate --backup-if-pending)"
        in service(evaluated, "fragrance-ai-migrate")["script"]
    )

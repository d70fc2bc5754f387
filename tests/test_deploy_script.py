"""scripts/deploy: activate with `nixos-rebuild test`, prove every unit, every worker's RQ
registration and /ready healthy, and only then confirm and make the generation the boot
default; otherwise roll back on the host (the database restored first when this deploy
migrated it), by the deploy or, when it can no longer reach the host, by the timer it armed
before activating.

nixos-rebuild, systemctl, systemd-run, ssh, curl, fragrance-ai-manage, nix-env, readlink of
/run/current-system, each system's switch-to-configuration and sleep cannot run here (no NixOS,
no systemd as PID 1, no remote host, and no time to wait), so they are PATH shims that record
their calls in order and act out what the real ones do to the host's state:

- `nixos-rebuild test` runs the migrate unit's part (a backup of the database at its revision,
  then the revision it migrates to in dataDir/schema-revision) and makes new-system current;
- `systemctl show` prints each unit's state from state/units/UNIT (a crash-looping unit has
  restarted, with a new main PID, at each look), `fragrance-ai-manage healthcheck worker KIND`
  lists the RQ workers those main PIDs registered (RQ names them after their PID);
- `systemd-run` keeps the rollback command it was given, as systemd keeps the transient unit:
  `systemctl start fragrance-ai-deploy-rollback.service` runs it, and so does the test when it
  lets the timer fire; `systemctl stop fragrance-ai-deploy-rollback.timer` cancels it;
- old-system's `switch-to-configuration test` brings back the previous generation: whatever
  the test set for "after rollback" holds from then on;
- ssh runs the command in a local shell, as on the host, until the network is cut.

The rest is real: bash, the rollback script under /bin/sh, and the files in the data dir.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "scripts" / "deploy"
FLAKE = ".#perfumery"
HOST = "deploy@perfumery"
READY_URL = "http://127.0.0.1:8000/ready"
# A backup from an earlier deploy: never the one to restore.
OLD_BACKUP = "fragrance-ai-20260101T000000.000000Z-0001_old.pgdump"
# The one fragrance-ai-migrate takes during the deploy, of the database at its revision then.
NEW_BACKUP = "fragrance-ai-20260301T120000.000000Z-{revision}.pgdump"

API = "fragrance-ai-api.service"
MIGRATE = "fragrance-ai-migrate.service"
LLM_1 = "fragrance-ai-worker-llm-1.service"
LLM_2 = "fragrance-ai-worker-llm-2.service"
RL_1 = "fragrance-ai-worker-rl-1.service"
UNITS = (API, MIGRATE, LLM_1, LLM_2, RL_1)
# What each unit looks like when healthy. Kind, Registered, RQSuffix and Crashloop are the
# shims' own: the worker's kind, whether its process is registered with RQ, the suffix RQ's
# name has after a reconnection, and whether it restarts between two looks. The LLM workers
# have metrics ports, where they answer /ready; the RL worker has none.
HEALTHY = {
    API: "ActiveState=active\nSubState=running\nNRestarts=0\nMainPID=1000\n",
    MIGRATE: "ActiveState=active\nSubState=exited\nNRestarts=0\nMainPID=0\n",
    LLM_1: "ActiveState=active\nSubState=running\nNRestarts=0\nMainPID=2001\nKind=llm\n"
    "Environment=APP_ENV=production API_HOST=0.0.0.0 WORKER_METRICS_PORT=9101\n",
    LLM_2: "ActiveState=active\nSubState=running\nNRestarts=0\nMainPID=2002\nKind=llm\n"
    "RQSuffix=.1\nEnvironment=APP_ENV=production WORKER_METRICS_PORT=9102 API_HOST=::1\n",
    RL_1: "ActiveState=active\nSubState=running\nNRestarts=3\nMainPID=3001\nKind=rl\n"
    "Environment=APP_ENV=production API_HOST=127.0.0.1\n",
}

# Each shim appends "name args..." to $DEPLOY_CALLS; state files live in $DEPLOY_STATE.
LOG_CALL = 'printf "%s\\n" "$(basename "$0") $*" >> "$DEPLOY_CALLS"\n'
RUN_ROLLBACK = """
run_rollback() {
  # systemd starts the transient service: the command systemd-run was given.
  local command
  mapfile -d '' -t command < "$DEPLOY_STATE/rollback-command"
  "${command[@]}"
}
"""
AFTER_ROLLBACK = """
# The previous generation: whatever the test set for "after rollback" holds from now on.
find "$DEPLOY_STATE" -name '*.after-rollback' | while read -r file; do
  cp "$file" "${file%.after-rollback}"
done
"""
SHIMS = {
    "nixos-rebuild": LOG_CALL
    + """
[[ $1 == test ]] || { echo "the deploy must not run nixos-rebuild $1" >&2; exit 2; }
if [[ -f $DEPLOY_STATE/build-fails ]]; then echo "error: builder failed" >&2; exit 1; fi
# fragrance-ai-migrate: a backup of the database at its revision (unless the test turned
# backupBeforeMigrate off), the migration, and the revision it reached written down.
revision=$(cat "$DEPLOY_STATE/database-revision")
if [[ ! -f $DEPLOY_STATE/no-backup ]]; then
  touch "$DEPLOY_DATA_DIR/backups/fragrance-ai-20260301T120000.000000Z-$revision.pgdump"
fi
if [[ -f $DEPLOY_STATE/migrates-to ]]; then
  cp "$DEPLOY_STATE/migrates-to" "$DEPLOY_STATE/database-revision"
fi
cp "$DEPLOY_STATE/database-revision" "$DEPLOY_DATA_DIR/schema-revision"
echo "$DEPLOY_SYSTEMS/new-system" > "$DEPLOY_STATE/current-system"
if [[ -f $DEPLOY_STATE/cuts-network ]]; then touch "$DEPLOY_STATE/network-down"; fi
if [[ -f $DEPLOY_STATE/activation-fails ]]; then exit 4; fi
""",
    "systemctl": LOG_CALL
    + RUN_ROLLBACK
    + """
case "$1 ${2:-}" in
  "show --property=Wants")
    cat "$DEPLOY_STATE/wants"
    ;;
  "show --property=Id,ActiveState,SubState,NRestarts,MainPID")
    shift 3
    for unit in "$@"; do
      file=$DEPLOY_STATE/units/$unit
      if grep -qx Crashloop=yes "$file"; then
        # Restarted since the last look: one restart more, a new main process.
        awk -F= -v OFS== '$1 == "NRestarts" || $1 == "MainPID" { $2 += 1 } { print }' \\
          "$file" > "$file.next"
        mv "$file.next" "$file"
      fi
      echo "Id=$unit"
      grep -E '^(ActiveState|SubState|NRestarts|MainPID)=' "$file"
      echo
    done
    ;;
  "show --property=Id,Environment")
    shift 2
    for unit in "${@:2}"; do
      echo "Id=$unit"
      grep '^Environment=' "$DEPLOY_STATE/units/$unit"
      echo
    done
    ;;
  "start fragrance-ai-deploy-rollback.service")
    run_rollback
    ;;
  "stop fragrance-ai-deploy-rollback.timer")
    if [[ $(cat "$DEPLOY_STATE/timer" 2>/dev/null) != waiting ]]; then
      echo "Failed to stop fragrance-ai-deploy-rollback.timer: Unit not loaded." >&2
      exit 5
    fi
    echo stopped > "$DEPLOY_STATE/timer"
    ;;
esac
""",
    "systemd-run": """
options=()
while [[ $# -gt 0 && $1 != -- ]]; do options+=("$1") && shift; done
shift
printf "%s\\n" "systemd-run ${options[*]}" >> "$DEPLOY_CALLS"
if [[ $(cat "$DEPLOY_STATE/timer" 2>/dev/null) == waiting ]]; then
  echo "Failed to start transient timer unit: Unit fragrance-ai-deploy-rollback.timer was" \\
    "already loaded or has a fragment file." >&2
  exit 1
fi
printf '%s\\0' "$@" > "$DEPLOY_STATE/rollback-command"
echo waiting > "$DEPLOY_STATE/timer"
""",
    "fragrance-ai-manage": LOG_CALL
    + """
value() { sed -n "s/^$1=//p" "$2"; }
case "$1 ${2:-}" in
  "healthcheck worker")
    live=()
    for file in "$DEPLOY_STATE"/units/*.service; do
      [[ $(value Kind "$file") == "$3" && $(value Registered "$file") != no ]] || continue
      live+=("$3-perfumery-$(value MainPID "$file")$(value RQSuffix "$file")")
    done
    if ((${#live[@]} == 0)); then
      echo "unhealthy: no live $3 worker on its queue from this host"
      exit 1
    fi
    joined=$(printf '%s, ' "${live[@]}")
    echo "healthy: live: ${joined%, }"
    ;;
  "db restore")
    [[ -f $3 ]]
    ;;
  *) exit 2 ;;
esac
""",
    "curl": LOG_CALL
    + """
# The API's /ready answers ready-status; a worker's, on its port, ready-status-PORT (200).
if [[ ${*: -1} == "$DEPLOY_READY_URL" ]]; then
  status=$(cat "$DEPLOY_STATE/ready-status")
else
  [[ ${*: -1} =~ :([0-9]+)/ready$ ]]
  status=$(cat "$DEPLOY_STATE/ready-status-${BASH_REMATCH[1]}" 2>/dev/null || echo 200)
fi
if [[ $status != 200 ]]; then
  [[ $* != *--fail-with-body* ]] || echo '{"not loaded": {"reader": "no GPU visible"}}'
  echo "curl: (22) The requested URL returned error: $status" >&2
  exit 22
fi
""",
    "readlink": """
if [[ $* == "-f /run/current-system" ]]; then
  printf "%s\\n" "readlink $*" >> "$DEPLOY_CALLS"
  exec cat "$DEPLOY_STATE/current-system"
fi
PATH=${PATH#*:} exec readlink "$@"
""",
    "nix-env": LOG_CALL,
    "sleep": LOG_CALL
    + RUN_ROLLBACK
    + """
# The deploy took too long: the timer fires while it waits.
if [[ -f $DEPLOY_STATE/timer-fires-while-waiting && $(cat "$DEPLOY_STATE/timer") == waiting ]]; then
  rm "$DEPLOY_STATE/timer-fires-while-waiting"
  echo elapsed > "$DEPLOY_STATE/timer"
  run_rollback || true
fi
""",
    # ssh [options] HOST COMMAND: the command string runs in a shell, as on the remote host.
    "ssh": """
printf "%s\\n" "ssh ${*: -2:1}" >> "$DEPLOY_CALLS"
if [[ -f $DEPLOY_STATE/network-down ]]; then
  echo "ssh: connect to host perfumery port 22: Connection timed out" >&2
  exit 255
fi
exec bash -c "${*: -1}"
""",
}
SWITCH_TO_CONFIGURATION = (
    'printf "%s\\n" "$0 $*" >> "$DEPLOY_CALLS"\n'
    'if [[ $1 == test ]]; then\n  echo "${0%/bin/*}" > "$DEPLOY_STATE/current-system"\n'
    + AFTER_ROLLBACK
    + "fi\n"
)


@dataclass
class Host:
    """The host being deployed: its data dir, the shims' state, and the calls made to it."""

    data_dir: Path
    state: Path
    systems: Path
    calls_file: Path
    env: dict[str, str]

    def set(self, name: str, value: str, *, after_rollback: str | None = None) -> None:
        (self.state / name).write_text(value)
        if after_rollback is not None:
            (self.state / f"{name}.after-rollback").write_text(after_rollback)

    def calls(self) -> list[str]:
        """Every call, in order; the stand-in systems read as the store paths they are."""
        if not self.calls_file.exists():
            return []
        text = self.calls_file.read_text().replace(f"{self.systems}/", "/nix/store/")
        return text.splitlines()

    def commands(self) -> list[str]:
        """The calls, less the ssh hops that carried them."""
        return [call for call in self.calls() if not call.startswith("ssh ")]

    def state_of(self, name: str) -> str:
        path = self.state / name
        return path.read_text().strip() if path.exists() else ""

    def record(self) -> Path:
        """This deploy's record on the host: its outcome and the rollback's log."""
        (record,) = (self.data_dir / "deploys").iterdir()
        return record

    def running_system(self) -> str:
        return self.state_of("current-system").replace(f"{self.systems}/", "/nix/store/")

    def timer_fires(self) -> subprocess.CompletedProcess[str]:
        """What systemd does when the timer elapses: runs the command the deploy armed."""
        assert self.state_of("timer") == "waiting", "the timer was cancelled or never armed"
        (self.state / "timer").write_text("elapsed")
        command = (self.state / "rollback-command").read_bytes().split(b"\0")[:-1]
        return subprocess.run(
            [part.decode() for part in command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def deploy(self, *args: str, remote: bool = True) -> subprocess.CompletedProcess[str]:
        target = ["--target-host", HOST] if remote else []
        return subprocess.run(
            [
                str(DEPLOY),
                *("--flake", FLAKE, *target, "--data-dir", str(self.data_dir)),
                *("--ready-timeout", "5", *args),
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
def host(tmp_path: Path) -> Host:
    shims = tmp_path / "bin"
    shims.mkdir()
    systems = tmp_path / "store"
    scripts: dict[Path, str] = {shims / name: body for name, body in SHIMS.items()}
    for system in ("old-system", "new-system"):
        (systems / system / "bin").mkdir(parents=True)
        scripts[systems / system / "bin" / "switch-to-configuration"] = SWITCH_TO_CONFIGURATION
    for path, body in scripts.items():
        path.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + body)
        path.chmod(0o755)
    data_dir = tmp_path / "var-lib-fragrance-ai"
    (data_dir / "backups").mkdir(parents=True)
    (data_dir / "schema-revision").write_text("0001_old\n")
    (data_dir / "backups" / OLD_BACKUP).touch()
    state = tmp_path / "state"
    (state / "units").mkdir(parents=True)
    for unit, properties in HEALTHY.items():
        (state / "units" / unit).write_text(properties)
    (state / "wants").write_text(" ".join(UNITS) + " fragrance-ai-api.socket\n")
    (state / "database-revision").write_text("0001_old\n")
    (state / "ready-status").write_text("200")
    (state / "current-system").write_text(f"{systems}/old-system\n")
    env = {
        **os.environ,
        "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
        "DEPLOY_CALLS": str(tmp_path / "calls"),
        "DEPLOY_STATE": str(state),
        "DEPLOY_DATA_DIR": str(data_dir),
        "DEPLOY_SYSTEMS": str(systems),
        "DEPLOY_READY_URL": READY_URL,
    }
    return Host(data_dir, state, systems, tmp_path / "calls", env)


def activation(*, remote: bool = True) -> list[str]:
    target = f" --target-host {HOST}" if remote else ""
    return [
        "readlink -f /run/current-system",
        "systemd-run --unit=fragrance-ai-deploy-rollback"
        " --description=Fragrance AI: roll back scripts/deploy's activation unless it confirms"
        " --on-active=1200s --timer-property=AccuracySec=1s"
        " --timer-property=RemainAfterElapse=no --service-type=oneshot --collect --setenv=PATH",
        f"nixos-rebuild test --flake {FLAKE}{target}",
        "readlink -f /run/current-system",
        "systemctl start fragrance-ai.target",
    ]


UNIT_STATES = "systemctl show --property=Id,ActiveState,SubState,NRestarts,MainPID -- " + " ".join(
    UNITS
)
WORKERS_REGISTERED = [
    "fragrance-ai-manage healthcheck worker llm",
    "fragrance-ai-manage healthcheck worker rl",
]
WORKERS_READY = [
    f"systemctl show --property=Id,Environment -- {LLM_1} {LLM_2} {RL_1}",
    "curl --silent --show-error --max-time 5 --fail-with-body http://127.0.0.1:9101/ready",
    "curl --silent --show-error --max-time 5 --fail-with-body http://[::1]:9102/ready",
]
READY = f"curl --silent --show-error --fail --max-time 5 --output /dev/null {READY_URL}"
# One whole health check: units up, workers registered and ready, the API ready, and no
# restart for 15 s.
HEALTH_CHECK = [
    "systemctl show --property=Wants --value fragrance-ai.target",
    UNIT_STATES,
    *WORKERS_REGISTERED,
    *WORKERS_READY,
    READY,
    "sleep 15",
    UNIT_STATES,
]
# The API's /ready failing at two looks 5 s apart: --ready-timeout 5 spent.
UNREADY_TWICE = [*HEALTH_CHECK[:8], "sleep 5", *HEALTH_CHECK[:8]]
CONFIRM_AND_MAKE_BOOT_DEFAULT = [
    "systemctl stop fragrance-ai-deploy-rollback.timer",
    "nix-env --profile /nix/var/nix/profiles/system --set /nix/store/new-system",
    "/nix/store/new-system/bin/switch-to-configuration boot",
]
ROLLBACK_NOW = "systemctl start fragrance-ai-deploy-rollback.service"
PREVIOUS_SYSTEM = "/nix/store/old-system/bin/switch-to-configuration test"


def restore_then_previous_system(data_dir: Path) -> list[str]:
    """The rollback after a migration: the database first, since old code refuses new."""
    backup = data_dir / "backups" / NEW_BACKUP.format(revision="0001_old")
    return [
        "systemctl stop fragrance-ai.target",
        f"fragrance-ai-manage db restore {backup}",
        PREVIOUS_SYSTEM,
        "systemctl start fragrance-ai.target",
    ]


def test_the_script_is_valid_bash() -> None:
    bash = shutil.which("bash")
    assert bash is not None
    completed = subprocess.run(
        [bash, "-n", str(DEPLOY)], capture_output=True, text=True, timeout=30, check=False
    )
    assert completed.returncode == 0, completed.stderr


def test_the_script_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed")
    completed = subprocess.run(
        [shellcheck, str(DEPLOY)], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stdout


@pytest.mark.parametrize("remote", [True, False], ids=["target-host", "local"])
def test_a_healthy_deploy_tests_proves_health_then_confirms_and_makes_it_the_boot_default(
    host: Host, remote: bool
) -> None:
    host.set("migrates-to", "0002_new\n")

    completed = host.deploy(remote=remote)

    assert completed.returncode == 0, completed.stderr
    assert host.commands() == [
        *activation(remote=remote),
        *HEALTH_CHECK,
        *CONFIRM_AND_MAKE_BOOT_DEFAULT,
    ]
    assert (host.record() / "outcome").read_text() == "confirmed\n"
    assert host.state_of("timer") == "stopped"
    # Over ssh, every command on the host goes through it; locally, none does.
    assert (f"ssh {HOST}" in host.calls()) is remote


@pytest.mark.parametrize(
    ("unit", "unhealthy", "why", "checked"),
    [
        # Active at each look: only the settle window sees the restarts.
        (LLM_2, "Crashloop=yes\n", f"{LLM_2} restarted within 15 s (NRestarts 1 -> 2", 10),
        (LLM_1, "Registered=no\n", f"{LLM_1} (main PID 2001) has no live RQ worker", 4),
        (RL_1, "", f"{RL_1} is activating (auto-restart)", 2),
        # Up and registered, but its model did not load: the CPU parser in its place.
        (LLM_1, "model", f"{LLM_1} is not ready: http://127.0.0.1:9101/ready answers", 6),
    ],
    ids=["crash-looping", "not-registered-with-rq", "restarting", "model-not-loaded"],
)
def test_an_unhealthy_worker_after_a_migration_is_rolled_back_and_the_database_restored(
    host: Host, unit: str, unhealthy: str, why: str, checked: int
) -> None:
    host.set("migrates-to", "0002_new\n")
    properties = HEALTHY[unit]
    if unhealthy == "model":
        host.set("ready-status-9101", "503", after_rollback="200")
    elif unhealthy:
        properties += unhealthy
    else:
        properties = properties.replace("SubState=running", "SubState=auto-restart")
        properties = properties.replace("ActiveState=active", "ActiveState=activating")
    host.set(f"units/{unit}", properties, after_rollback=HEALTHY[unit])

    completed = host.deploy()

    assert completed.returncode == 1, completed.stderr
    if checked == len(HEALTH_CHECK):
        unhealthy_checks = HEALTH_CHECK
    else:
        unhealthy_checks = [*HEALTH_CHECK[:checked], "sleep 5", *HEALTH_CHECK[:checked]]
    assert host.commands() == [
        *activation(),
        *unhealthy_checks,
        ROLLBACK_NOW,
        *restore_then_previous_system(host.data_dir),
        "systemctl stop fragrance-ai-deploy-rollback.timer",
        *HEALTH_CHECK,
    ]
    assert why in completed.stderr
    assert "the previous generation is healthy again" in completed.stderr
    assert host.running_system() == "/nix/store/old-system"
    assert (host.record() / "outcome").read_text() == "rolled back\n"
    assert "restored the database from" in (host.record() / "rollback.log").read_text()


def test_an_unready_api_without_a_migration_only_activates_the_previous_system(
    host: Host,
) -> None:
    host.set("ready-status", "503", after_rollback="200")

    completed = host.deploy()

    assert completed.returncode == 1, completed.stderr
    assert host.commands() == [
        *activation(),
        *UNREADY_TWICE,
        ROLLBACK_NOW,
        PREVIOUS_SYSTEM,
        "systemctl stop fragrance-ai-deploy-rollback.timer",
        *HEALTH_CHECK,
    ]
    assert f"{READY_URL} does not answer 2xx" in completed.stderr


def test_a_lost_connection_leaves_the_host_to_roll_itself_back(host: Host) -> None:
    # The new generation migrates, then cuts the network: nothing the deploy sends arrives.
    host.set("migrates-to", "0002_new\n")
    host.set("cuts-network", "")

    completed = host.deploy()

    assert completed.returncode == 2, completed.stderr
    # The timer was armed before activating and never cancelled, nothing was confirmed, and
    # the deploy's own rollback never reached the host.
    assert host.commands() == [*activation()[:3], "sleep 5"]
    assert "does not answer" in completed.stderr
    assert "rolls it back by itself" in completed.stderr
    assert host.running_system() == "/nix/store/new-system"
    assert not (host.record() / "outcome").exists()

    fired = host.timer_fires()

    assert fired.returncode == 0, fired.stderr
    assert host.commands()[4:] == restore_then_previous_system(host.data_dir)
    assert host.running_system() == "/nix/store/old-system"
    assert (host.record() / "outcome").read_text() == "rolled back\n"
    assert "systemctl stop fragrance-ai-deploy-rollback.timer" not in host.calls()
    assert not any(call.startswith("nix-env") for call in host.calls())


def test_a_timer_that_fired_before_the_deploy_confirmed_wins(host: Host) -> None:
    # The host rolled back while the deploy watched the units: the deploy must not then make
    # the generation it tested the boot default.
    host.set("migrates-to", "0002_new\n")
    host.set("timer-fires-while-waiting", "")

    completed = host.deploy()

    assert completed.returncode == 2, completed.stderr
    assert host.commands() == [
        *activation(),
        *HEALTH_CHECK[:-1],
        *restore_then_previous_system(host.data_dir),
        UNIT_STATES,
    ]
    assert "only after fragrance-ai-deploy-rollback.timer had fired" in completed.stderr
    assert (host.record() / "outcome").read_text() == "rolled back\n"
    assert host.running_system() == "/nix/store/old-system"


def test_a_build_failure_changes_nothing_and_disarms_the_timer(host: Host) -> None:
    host.set("build-fails", "")

    completed = host.deploy()

    assert completed.returncode == 2, completed.stderr
    assert host.commands() == [
        *activation()[:4],
        "systemctl stop fragrance-ai-deploy-rollback.timer",
    ]
    assert "before activating anything" in completed.stderr
    assert (host.record() / "outcome").read_text() == "nothing activated\n"


def test_a_failed_activation_is_rolled_back_without_waiting(host: Host) -> None:
    host.set("activation-fails", "")

    completed = host.deploy()

    assert completed.returncode == 1, completed.stderr
    assert host.commands() == [
        *activation()[:4],
        ROLLBACK_NOW,
        PREVIOUS_SYSTEM,
        "systemctl stop fragrance-ai-deploy-rollback.timer",
        *HEALTH_CHECK,
    ]
    assert "nixos-rebuild failed (exit 4) while activating" in completed.stderr


def test_a_host_still_unhealthy_after_the_rollback_exits_2(host: Host) -> None:
    host.set("ready-status", "503")

    completed = host.deploy()

    assert completed.returncode == 2, completed.stderr
    assert host.commands() == [
        *activation(),
        *UNREADY_TWICE,
        ROLLBACK_NOW,
        PREVIOUS_SYSTEM,
        "systemctl stop fragrance-ai-deploy-rollback.timer",
        *UNREADY_TWICE,
    ]
    assert "the previous generation is unhealthy too" in completed.stderr


def test_a_migration_without_a_backup_is_left_on_the_new_generation(host: Host) -> None:
    # backupBeforeMigrate off: the old code would refuse the new schema, so the rollback
    # leaves the generation as it is and says what to do.
    host.set("migrates-to", "0002_new\n")
    host.set("no-backup", "")
    host.set("ready-status", "503")

    completed = host.deploy()

    assert completed.returncode == 2, completed.stderr
    assert host.commands() == [
        *activation(),
        *UNREADY_TWICE,
        ROLLBACK_NOW,
        "systemctl stop fragrance-ai-deploy-rollback.timer",
    ]
    assert "no backup was taken during this deploy" in completed.stderr
    assert host.running_system() == "/nix/store/new-system"
    assert (host.record() / "outcome").read_text().startswith("not rolled back")


@pytest.mark.parametrize(
    ("backup", "why"),
    [
        (True, "another host sharing it migrated it first"),
        (False, "or another host sharing the database migrated it first"),
    ],
    ids=["backup-at-every-start", "backup-only-when-pending"],
)
def test_a_host_whose_shared_database_another_host_migrated_is_not_restored(
    host: Host, backup: bool, why: str
) -> None:
    # Another host sharing the database deployed first and migrated it: this host's migrate
    # found nothing to do, and backed up the migrated database or (backing up only when a
    # migration is pending) nothing. Restoring that, or starting the old code on the newer
    # schema, would strand this host (and lose the other hosts' writes).
    host.set("database-revision", "0002_new\n")
    host.set("migrates-to", "0002_new\n")
    if not backup:
        host.set("no-backup", "")
    host.set("ready-status", "503")

    completed = host.deploy()

    assert completed.returncode == 2, completed.stderr
    assert host.commands() == [
        *activation(),
        *UNREADY_TWICE,
        ROLLBACK_NOW,
        "systemctl stop fragrance-ai-deploy-rollback.timer",
    ]
    assert why in completed.stderr
    assert not any("db restore" in call for call in host.calls())
    assert host.running_system() == "/nix/store/new-system"


def test_a_deploy_while_another_is_unconfirmed_changes_nothing(host: Host) -> None:
    host.set("timer", "waiting\n")

    completed = host.deploy()

    assert completed.returncode == 2, completed.stderr
    assert host.commands() == activation()[:2]
    assert "could not arm fragrance-ai-deploy-rollback.timer" in completed.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--flake"],
        ["--flake", "no-host-attribute"],
        ["--flake", FLAKE, "--ready-timeout", "soon"],
        ["--flake", FLAKE, "--settle", "0"],
        ["--flake", FLAKE, "--rollback-after", "130"],
        ["--flake", FLAKE, "--bogus"],
    ],
)
def test_bad_arguments_print_the_usage_and_exit_64(args: list[str]) -> None:
    completed = subprocess.run(
        [str(DEPLOY), *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert completed.returncode == 64
    assert "usage: scripts/deploy --flake FLAKE#HOST" in completed.stderr

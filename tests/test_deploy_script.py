"""scripts/deploy: switch, check health, and on failure restore the database (when a migration
ran) before rolling the generation back.

nixos-rebuild, systemctl, fragrance-ai-manage and ssh cannot run here (no NixOS, no systemd
as PID 1, no remote host), so they are PATH shims that record their calls in order and act
out what the real ones do to the host's state: the switch runs the migrate unit's part
(a backup in dataDir/backups, then the new revision in dataDir/schema-revision), ssh runs the
command in a local shell. The rest is real: bash, sh, curl, and an HTTP server answering
/ready with the status the test sets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "scripts" / "deploy"
FLAKE = ".#perfumery"
HOST = "deploy@perfumery"
OLD_BACKUP = "fragrance-ai-20260101T000000.000000Z-0001_old.pgdump"

# Each shim appends "name args..." to $DEPLOY_CALLS; state files live in $DEPLOY_STATE.
LOG_CALL = 'printf "%s\\n" "$(basename "$0") $*" >> "$DEPLOY_CALLS"\n'
SHIMS = {
    "nixos-rebuild": LOG_CALL
    + """
if [[ " $* " == *" --rollback "* ]]; then
  # The previous generation: whatever the test set for "after rollback" holds from now on.
  for file in "$DEPLOY_STATE"/*.after-rollback; do
    [[ -e $file ]] && cp "$file" "${file%.after-rollback}"
  done
  exit 0
fi
if [[ -f $DEPLOY_STATE/migrates-to ]]; then
  # fragrance-ai-migrate: a backup at the old revision (unless the test turned
  # backupBeforeMigrate off), then the new revision written.
  revision=$(cat "$DEPLOY_DATA_DIR/schema-revision")
  backup="$DEPLOY_DATA_DIR/backups/fragrance-ai-20260301T120000.000000Z-$revision.pgdump"
  [[ -f $DEPLOY_STATE/no-backup ]] || touch "$backup"
  cp "$DEPLOY_STATE/migrates-to" "$DEPLOY_DATA_DIR/schema-revision"
fi
""",
    "systemctl": LOG_CALL
    + """
if [[ $1 == is-active ]]; then
  state=$(cat "$DEPLOY_STATE/target-state")
  echo "$state"
  [[ $state == active ]]
fi
""",
    "fragrance-ai-manage": LOG_CALL
    + """
[[ "$1 $2" == "db restore" && -f $3 ]]
""",
    # ssh [options] HOST COMMAND: the command string runs in a shell, as on the remote host.
    "ssh": 'printf "%s\\n" "ssh ${*: -2:1}" >> "$DEPLOY_CALLS"\nexec bash -c "${*: -1}"\n',
}


class ReadyServer:
    """Answers GET /ready with the status code written in `status_file`."""

    def __init__(self, status_file: Path) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code = int(status_file.read_text()) if self.path == "/ready" else 404
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ready"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@dataclass
class Host:
    """The host being deployed: its data dir, the shims' state, and the calls made to it."""

    data_dir: Path
    state: Path
    calls_file: Path
    env: dict[str, str]
    ready_url: str

    def set(self, name: str, value: str, *, after_rollback: str | None = None) -> None:
        (self.state / name).write_text(value)
        if after_rollback is not None:
            (self.state / f"{name}.after-rollback").write_text(after_rollback)

    def calls(self) -> list[str]:
        return self.calls_file.read_text().splitlines() if self.calls_file.exists() else []

    def actions(self) -> list[str]:
        """The calls that change the host, in order (health queries and ssh hops left out)."""
        return [
            call for call in self.calls() if not call.startswith(("systemctl is-active", "ssh "))
        ]

    def deploy(self, *args: str, remote: bool = True) -> subprocess.CompletedProcess[str]:
        target = ["--target-host", HOST] if remote else []
        return subprocess.run(
            [
                str(DEPLOY),
                *("--flake", FLAKE, *target, "--data-dir", str(self.data_dir)),
                *("--ready-url", self.ready_url, "--ready-timeout", "1", *args),
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    shims = tmp_path / "bin"
    shims.mkdir()
    for name, body in SHIMS.items():
        shim = shims / name
        shim.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + body)
        shim.chmod(0o755)
    data_dir = tmp_path / "var-lib-fragrance-ai"
    (data_dir / "backups").mkdir(parents=True)
    (data_dir / "schema-revision").write_text("0001_old\n")
    # A backup from an earlier deploy: never the one to restore.
    (data_dir / "backups" / OLD_BACKUP).touch()
    state = tmp_path / "state"
    state.mkdir()
    (state / "target-state").write_text("active")
    (state / "ready-status").write_text("200")
    server = ReadyServer(state / "ready-status")
    env = {
        **os.environ,
        "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
        "DEPLOY_CALLS": str(tmp_path / "calls"),
        "DEPLOY_STATE": str(state),
        "DEPLOY_DATA_DIR": str(data_dir),
    }
    try:
        yield Host(data_dir, state, tmp_path / "calls", env, server.url)
    finally:
        server.close()


def test_the_script_is_valid_bash() -> None:
    bash = shutil.which("bash")
    assert bash is not None
    completed = subprocess.run(
        [bash, "-n", str(DEPLOY)], capture_output=True, text=True, timeout=30, check=False
    )
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize("remote", [True, False], ids=["target-host", "local"])
def test_a_healthy_deploy_switches_once_and_rolls_nothing_back(host: Host, remote: bool) -> None:
    host.set("migrates-to", "0002_new\n")

    completed = host.deploy(remote=remote)

    assert completed.returncode == 0, completed.stderr
    target = f" --target-host {HOST}" if remote else ""
    assert host.actions() == [f"nixos-rebuild switch --flake {FLAKE}{target}"]
    assert "systemctl is-active fragrance-ai.target" in host.calls()
    # Over ssh, every command on the host goes through it; locally, none does.
    assert (f"ssh {HOST}" in host.calls()) is remote


def test_an_unready_api_after_a_migration_restores_the_backup_before_rolling_back(
    host: Host,
) -> None:
    host.set("migrates-to", "0002_new\n")
    host.set("ready-status", "503", after_rollback="200")

    completed = host.deploy()

    assert completed.returncode == 1, completed.stderr
    new_backup = host.data_dir / "backups" / "fragrance-ai-20260301T120000.000000Z-0001_old.pgdump"
    assert host.actions() == [
        f"nixos-rebuild switch --flake {FLAKE} --target-host {HOST}",
        "systemctl stop fragrance-ai.target",
        f"fragrance-ai-manage db restore {new_backup}",
        f"nixos-rebuild switch --rollback --target-host {HOST}",
        "systemctl start fragrance-ai.target",
    ]
    assert "does not answer 2xx" in completed.stderr
    assert "healthy again" in completed.stderr


def test_a_failed_target_without_a_migration_only_rolls_back(host: Host) -> None:
    host.set("target-state", "failed", after_rollback="active")

    completed = host.deploy()

    assert completed.returncode == 1, completed.stderr
    assert host.actions() == [
        f"nixos-rebuild switch --flake {FLAKE} --target-host {HOST}",
        f"nixos-rebuild switch --rollback --target-host {HOST}",
    ]
    assert "fragrance-ai.target is failed" in completed.stderr


def test_a_host_still_unhealthy_after_the_rollback_exits_2(host: Host) -> None:
    host.set("ready-status", "503")

    completed = host.deploy()

    assert completed.returncode == 2, completed.stderr
    assert host.actions()[-1] == f"nixos-rebuild switch --rollback --target-host {HOST}"
    assert "still unhealthy" in completed.stderr


def test_a_migration_without_a_backup_stops_before_rolling_back(host: Host) -> None:
    # backupBeforeMigrate off: the old code would refuse the new schema, so the script leaves
    # the generation as it is and says what to do.
    host.set("migrates-to", "0002_new\n")
    host.set("no-backup", "")
    host.set("ready-status", "503")

    completed = host.deploy()

    assert completed.returncode == 2, completed.stderr
    assert host.actions() == [f"nixos-rebuild switch --flake {FLAKE} --target-host {HOST}"]
    assert "took no backup" in completed.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--flake"],
        ["--flake", "no-host-attribute"],
        ["--flake", FLAKE, "--ready-timeout", "soon"],
        ["--flake", FLAKE, "--bogus"],
    ],
)
def test_bad_arguments_print_the_usage_and_exit_64(args: list[str]) -> None:
    completed = subprocess.run(
        [str(DEPLOY), *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert completed.returncode == 64
    assert "usage: scripts/deploy --flake FLAKE#HOST" in completed.stderr

# fragrance-ai-manage, the CLI as the services run it (in environment.systemPackages).
# systemd-run starts the command as a transient unit with the services' user, groups,
# environment and state directory; systemd (root) reads secretsFile, so the file may stay
# readable by root only, as sops-nix and agenix write it. Like mastodon-tootctl and
# netbox-manage, but without copying secrets into a shell.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  common = import ./common.nix { inherit config lib; };
  hardening = import ./hardening.nix { inherit lib common; };
  inherit (common)
    baseEnvironment
    cfg
    exe
    stateDir
    stateDirectoryName
    ;

  manageProperties = [
    "User=${cfg.user}"
    "Group=${cfg.group}"
    "WorkingDirectory=${stateDir}"
    "StateDirectory=${stateDirectoryName}"
    "StateDirectoryMode=0700"
    "Slice=fragrance-ai.slice"
    "UMask=0077"
    "LimitCORE=0"
  ]
  ++ map (group: "SupplementaryGroups=${group}") hardening.service.SupplementaryGroups
  ++ map (file: "EnvironmentFile=${file}") hardening.service.EnvironmentFile;
  manageEnvironment = baseEnvironment // {
    # pg_dump and pg_restore for `db backup` and `db restore`.
    PATH = "${lib.getBin config.services.postgresql.package}/bin:/run/current-system/sw/bin";
  };
  manageScript = pkgs.writeShellScriptBin "fragrance-ai-manage" ''
    # fragrance-ai-manage ARGS...: `fragrance-ai ARGS...` as the Fragrance AI services run it.
    set -euo pipefail
    if [[ $(id -u) -ne 0 ]]; then
      if command -v sudo >/dev/null; then exec sudo -- "$0" "$@"; fi
      echo "fragrance-ai-manage: run it as root (it starts a unit with systemd-run)" >&2
      exit 1
    fi
    # A terminal gets a terminal (prompts, colours); pipes and files get plain pipes.
    if [[ -t 0 && -t 1 ]]; then io=--pty; else io=--pipe; fi
    exec ${lib.getExe' config.systemd.package "systemd-run"} --quiet --wait --collect \
      --service-type=exec "$io" \
      ${lib.concatMapStringsSep " \\
  " (property: "--property=${lib.escapeShellArg property}") manageProperties} \
      ${lib.concatStringsSep " \\
  " (lib.mapAttrsToList (name: value: "--setenv=${lib.escapeShellArg "${name}=${value}"}") manageEnvironment)} \
      -- ${exe} "$@"
  '';
in
{
  config = lib.mkIf cfg.enable {
    environment.systemPackages = [ manageScript ];
  };
}

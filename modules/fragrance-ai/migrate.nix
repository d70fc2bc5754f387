# The schema migration: fragrance-ai-migrate.service, a oneshot that the API and the workers
# require, run again on every start of fragrance-ai.target; with database.backupBeforeMigrate
# it dumps the database first when (and only when) a migration is pending.
{
  config,
  lib,
  ...
}:
let
  common = import ./common.nix { inherit config lib; };
  hardening = import ./hardening.nix { inherit lib common; };
  inherit (common)
    baseEnvironment
    cfg
    exe
    localServices
    networkUnits
    remoteServices
    stateDir
    ;

  # How long one start tries an unreachable database again before it fails and leaves the
  # next try to systemd (Restart= below).
  retryWithinStartSec = 120;

  # `fragrance-ai migrate` says by its exit status what comes next (fragrance_ai/cli/migrate.py):
  #   0   the schema is current;
  #   75  the database cannot be reached (yet): tried again here, 1, 2, 4 ... 30 s apart, for
  #       up to retryWithinStartSec, which covers a database that is still starting;
  #   2   refused for good (the schema is newer than this version: its one line in the journal
  #       says how to roll back): the unit fails at once, and is not restarted;
  #   1   the backup or a migration failed: the unit fails, and systemd tries again.
  # With --backup-if-pending it backs the database up first only when a migration is pending,
  # so a start with nothing to migrate (most of them) runs no pg_dump.
  migrateScript = ''
    delay=1
    deadline=$((SECONDS + ${toString retryWithinStartSec}))
    while :; do
      status=0
      output=$(${exe} migrate${lib.optionalString cfg.database.backupBeforeMigrate " --backup-if-pending"}) || status=$?
      if [ -n "$output" ]; then printf '%s\n' "$output"; fi
      if [ "$status" -ne 75 ] || [ "$SECONDS" -ge "$deadline" ]; then break; fi
      echo "fragrance-ai-migrate: the database is not reachable yet; trying again in $delay s" >&2
      sleep "$delay"
      delay=$(( delay * 2 > 30 ? 30 : delay * 2 ))
    done
    if [ "$status" -ne 0 ]; then exit "$status"; fi
    # The revision it reached, which scripts/deploy compares to know whether a migration ran;
    # `migrate` ends with "... is at revision <revision>".
    printf '%s\n' "''${output##* }" > ${stateDir}/schema-revision.tmp
    mv ${stateDir}/schema-revision.tmp ${stateDir}/schema-revision
  '';
in
{
  config = lib.mkIf cfg.enable {
    systemd.services.fragrance-ai-migrate = {
      description = "Fragrance AI database migrations";
      after = networkUnits ++ localServices;
      wants = lib.optional remoteServices "network-online.target";
      requires = localServices;
      wantedBy = [ "fragrance-ai.target" ];
      partOf = [ "fragrance-ai.target" ];
      # Re-run on every start of the target, e.g. after `nixos-rebuild switch` brings a new schema.
      environment = baseEnvironment;
      # pg_dump for the backup, matching the local server's major version.
      path = lib.optional cfg.database.backupBeforeMigrate config.services.postgresql.package;
      script = migrateScript;
      # The API and the workers Require= this unit (common.nix's appUnit), so they never run on
      # a schema their code was not written for; but a failed start fails their start jobs
      # ("dependency"), which neither their Restart= nor this unit's retries (systemd does not
      # start dependants again when a unit it restarted succeeds: systemd issue 18856). So a
      # transient failure past retryWithinStartSec is retried by systemd, backing off from
      # 10 s to 5 min and never given up on, and a success starts fragrance-ai.target again,
      # which starts what failed meanwhile (and nothing that already runs). A deterministic
      # failure (2) stays failed with its message, and so do they, until a person acts.
      startLimitIntervalSec = 0;
      serviceConfig = hardening.service // {
        Type = "oneshot";
        RemainAfterExit = true;
        # A slow migration or pg_dump of a large database; past it the unit fails and is
        # restarted like any other transient failure.
        TimeoutStartSec = "15min";
        Restart = "on-failure";
        RestartPreventExitStatus = 2;
        RestartSec = "10s";
        RestartSteps = 5;
        RestartMaxDelaySec = "5min";
        # "+": full privileges, which starting a unit needs; --no-block: the target's start
        # waits for this unit's.
        ExecStartPost = "+${lib.getExe' config.systemd.package "systemctl"} start --no-block fragrance-ai.target";
      };
    };
  };
}

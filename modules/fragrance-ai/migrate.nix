# The schema migration: fragrance-ai-migrate.service, a oneshot that the API and the workers
# require, run again on every start of fragrance-ai.target; with database.backupBeforeMigrate
# it dumps the database first.
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

  # Retries inside one start rather than Restart=on-failure: a oneshot that fails its first
  # try fails the start jobs of the units that Require it (a dependency failure, which their
  # own Restart= never retries), so a database still booting would strand the API and the
  # workers. Here they wait while this start retries, 1, 2, 4 ... 30 s apart, until it works
  # or TimeoutStartSec (15 min) ends it. The revision it reaches is written to
  # schema-revision, which scripts/deploy compares to know whether a migration ran.
  migrateScript = ''
    delay=1
    retry() {
      until "$@"; do
        echo "fragrance-ai-migrate: '$*' failed; trying again in $delay s" >&2
        sleep "$delay"
        delay=$(( delay * 2 > 30 ? 30 : delay * 2 ))
      done
      delay=1
    }
  ''
  + lib.optionalString cfg.database.backupBeforeMigrate ''
    # The state before this start's migration, kept under ${stateDir}/backups (the last few).
    retry ${exe} db backup
  ''
  + ''
    migrated() { output=$(${exe} migrate) && printf '%s\n' "$output"; }
    retry migrated
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
      # pg_dump for `db backup`, matching the local server's major version.
      path = lib.optional cfg.database.backupBeforeMigrate config.services.postgresql.package;
      script = migrateScript;
      serviceConfig = hardening.service // {
        Type = "oneshot";
        RemainAfterExit = true;
        TimeoutStartSec = "15min";
      };
    };
  };
}

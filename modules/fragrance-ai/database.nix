# The local PostgreSQL database (database.createLocally): a database and a role named after
# the service user, reached over the socket with peer authentication (common.nix's
# databaseUrl). An external database is only a URL (database.url or secretsFile).
{
  config,
  lib,
  ...
}:
let
  inherit (import ./common.nix { inherit config lib; }) cfg;
in
{
  config = lib.mkIf (cfg.enable && cfg.database.createLocally) {
    services.postgresql = {
      enable = true;
      # ensureDBOwnership needs the database and the role to share the user's name.
      ensureDatabases = [ cfg.user ];
      ensureUsers = [
        {
          name = cfg.user;
          ensureDBOwnership = true;
        }
      ];
    };
  };
}

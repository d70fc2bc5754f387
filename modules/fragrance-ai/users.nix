# The system user and group the units run as, created while they are the defaults; a user or
# group named otherwise is the host's own.
{
  config,
  lib,
  ...
}:
let
  inherit (import ./common.nix { inherit config lib; }) cfg stateDir;
in
{
  config = lib.mkIf cfg.enable {
    users.users = lib.mkIf (cfg.user == "fragrance-ai") {
      fragrance-ai = {
        isSystemUser = true;
        inherit (cfg) group;
        home = stateDir;
        description = "Fragrance AI";
      };
    };
    users.groups = lib.mkIf (cfg.group == "fragrance-ai") { fragrance-ai = { }; };
  };
}

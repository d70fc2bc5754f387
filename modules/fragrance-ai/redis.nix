# The local Redis (redis.createLocally): services.redis.servers.fragrance-ai on a Unix socket
# only; hardening.nix puts every unit in its group, and common.nix's redisUrl points at it.
{
  config,
  lib,
  ...
}:
let
  inherit (import ./common.nix { inherit config lib; }) cfg;
in
{
  config = lib.mkIf (cfg.enable && cfg.redis.createLocally) {
    services.redis.servers.fragrance-ai = {
      enable = true;
      port = 0; # the Unix socket only
    };
  };
}

# The network side: with nginx.enable an nginx virtual host proxying to the API (and hiding
# its /metrics), and with openFirewall the API's port, or 80 and 443 for nginx.
{
  config,
  lib,
  ...
}:
let
  inherit (import ./common.nix { inherit config lib; }) apiAddress cfg;
in
{
  config = lib.mkIf cfg.enable {
    services.nginx = lib.mkIf cfg.nginx.enable {
      enable = true;
      recommendedProxySettings = true;
      virtualHosts.${cfg.nginx.virtualHost} = {
        inherit (cfg.nginx) enableACME forceSSL;
        locations."/".proxyPass = "http://${apiAddress}";
        # Prometheus scrapes the API directly; the public side does not see /metrics.
        locations."= /metrics".return = "404";
      };
    };

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall (
      if cfg.nginx.enable then
        [
          80
          443
        ]
      else
        [ cfg.api.port ]
    );
  };
}

# The HTTP API: fragrance-ai-api.service (`fragrance-ai serve`, uvicorn) and, with
# api.socketActivation, fragrance-ai-api.socket, which owns the listening socket.
{
  config,
  lib,
  ...
}:
let
  common = import ./common.nix { inherit config lib; };
  hardening = import ./hardening.nix { inherit lib common; };
  inherit (common)
    apiAddress
    appUnit
    baseEnvironment
    cfg
    exe
    ;

  # Socket activation: systemd owns the listening socket (fragrance-ai-api.socket) and hands it
  # to `serve` as fd 3 (LISTEN_FDS), so while the API restarts the kernel keeps the socket and
  # queues new connections in its backlog instead of refusing them. There is one API unit (its
  # uvicorn worker processes share the inherited socket), so one socket is all it needs.
  apiSocket = {
    description = "Fragrance AI HTTP API socket";
    wantedBy = [ "sockets.target" ];
    partOf = [ "fragrance-ai.target" ];
    listenStreams = [ apiAddress ];
  };

  apiUnit = appUnit // {
    after = appUnit.after ++ lib.optional cfg.api.socketActivation "fragrance-ai-api.socket";
    requires = appUnit.requires ++ lib.optional cfg.api.socketActivation "fragrance-ai-api.socket";
    # With stopIfChanged (the default), switch-to-configuration stops a socket-activated
    # service *and its socket*, and connections are refused until it is back; a plain restart
    # keeps the socket open (nixos/doc/manual/development/unit-handling.section.md).
    stopIfChanged = !cfg.api.socketActivation;
    description = "Fragrance AI HTTP API";
    environment =
      baseEnvironment
      // {
        API_WORKERS = toString cfg.api.workers;
      }
      // lib.optionalAttrs (cfg.api.workers > 1) {
        # Where uvicorn's worker processes leave their samples for /metrics to sum (wiped at
        # start by `serve`); only set with several, as it switches prometheus-client's mode.
        PROMETHEUS_MULTIPROC_DIR = "/run/fragrance-ai-api/metrics";
      };
    serviceConfig =
      hardening.service
      // hardening.limits cfg.api
      // hardening.health cfg.api
      // {
        ExecStart = "${exe} serve";
        RuntimeDirectory = "fragrance-ai-api";
        RuntimeDirectoryMode = "0700";
        # With api.workers > 1, uvicorn's worker processes (children) notify and ping.
        NotifyAccess = "all";
        # Without socket activation uvicorn binds the port itself, unprivileged ports only
        # (CapabilityBoundingSet is empty); with it, systemd binds any port.
      }
      // lib.optionalAttrs cfg.api.socketActivation {
        Sockets = [ "fragrance-ai-api.socket" ];
      };
  };
in
{
  config = lib.mkIf cfg.enable {
    systemd.services.fragrance-ai-api = apiUnit;
    systemd.sockets.fragrance-ai-api = lib.mkIf cfg.api.socketActivation apiSocket;
  };
}

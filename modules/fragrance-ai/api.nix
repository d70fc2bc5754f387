# The HTTP API: fragrance-ai-api.service (`fragrance-ai serve`, uvicorn) and, with
# api.socketActivation, fragrance-ai-api.socket, which owns the listening socket.
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

  # A deterministic exit stops the socket. Without this, socket activation defeats
  # RestartPreventExitStatus=: systemd does not restart the API after exit status 2 (a
  # configuration error, a schema newer than this version) or 3 (the app failed to start), but
  # the socket keeps listening, and each new connection starts the API again, to fail the same
  # way (systemd.socket(5): the socket only gives up on its TriggerLimitBurst= or on the
  # service's start limit, which startLimitIntervalSec = 0 turns off so that transient failures
  # are retried for ever). ExecStopPost= runs after every stop, a failed start included, with
  # $SERVICE_RESULT, $EXIT_CODE and $EXIT_STATUS (systemd.exec(5)); "+" runs it with full
  # privileges, which `systemctl stop` needs. --no-block: the socket's stop waits for this
  # unit's, which waits for this command. fragrance-ai-migrate gets it too, as its exit 2 fails
  # the API's start. After the fix, `systemctl start fragrance-ai.target` (or a switch) starts
  # the socket again with everything else.
  stopSocketOnDeterministicExit = "+${pkgs.writeShellScript "fragrance-ai-stop-socket" ''
    case "$SERVICE_RESULT:$EXIT_CODE:$EXIT_STATUS" in
      exit-code:exited:2 | exit-code:exited:3)
        echo "$1 exited $EXIT_STATUS, which a restart cannot fix: stopping fragrance-ai-api.socket" \
          "until 'systemctl start fragrance-ai.target' after the fix" >&2
        exec ${lib.getExe' config.systemd.package "systemctl"} stop --no-block fragrance-ai-api.socket
        ;;
    esac
  ''} %n";

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
        # 2: cannot run as configured (hardening.nix's health); 3: `serve`'s exit status for
        # an app that failed to start, which a restart repeats.
        RestartPreventExitStatus = [
          2
          3
        ];
        # Without socket activation uvicorn binds the port itself, unprivileged ports only
        # (CapabilityBoundingSet is empty); with it, systemd binds any port.
      }
      // lib.optionalAttrs cfg.api.socketActivation {
        Sockets = [ "fragrance-ai-api.socket" ];
        ExecStopPost = [ stopSocketOnDeterministicExit ];
      };
  };
in
{
  config = lib.mkIf cfg.enable {
    systemd.services.fragrance-ai-api = apiUnit;
    systemd.sockets.fragrance-ai-api = lib.mkIf cfg.api.socketActivation apiSocket;
    systemd.services.fragrance-ai-migrate.serviceConfig.ExecStopPost = lib.mkIf cfg.api.socketActivation [
      stopSocketOnDeterministicExit
    ];
  };
}

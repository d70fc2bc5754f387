# Not a module: the values derived from services.fragrance-ai that several of this
# directory's files use (paths, the worker groups that run, the database and Redis URLs, the
# environment every process gets, and the ordering the API and the workers share). Each file
# imports it: `common = import ./common.nix { inherit config lib; };`.
{ config, lib }:
rec {
  cfg = config.services.fragrance-ai;

  stateDir = cfg.dataDir;
  # StateDirectory= takes a path under /var/lib (dataDir's type keeps it there), which
  # systemd creates and hands to the service user even with ProtectSystem=strict.
  stateDirectoryName = lib.removePrefix "/var/lib/" stateDir;
  cacheDir = "/var/cache/fragrance-ai";
  redisServer = config.services.redis.servers.fragrance-ai;
  exe = lib.getExe' cfg.package "fragrance-ai";

  queueNames = [
    "llm_inference"
    "rl_training"
  ];
  defaultQueues = {
    llm = [ "llm_inference" ];
    rl = [ "rl_training" ];
  };

  enabledWorkers = lib.filterAttrs (_: worker: worker.enable) cfg.workers;

  # Every replica's WORKER_METRICS_PORT (port .. port + replicas - 1 of each group).
  metricsPorts = lib.concatLists (
    lib.mapAttrsToList (
      _: worker:
      lib.optionals (worker.metricsPort != null) (
        lib.range worker.metricsPort (worker.metricsPort + worker.replicas - 1)
      )
    ) enabledWorkers
  );

  # nginx reaches the API where it listens (IPv6 literals in brackets).
  hostPort =
    host: port: if lib.hasInfix ":" host then "[${host}]:${toString port}" else "${host}:${toString port}";

  # api.host as systemd's ListenStream= and uvicorn both take it: systemd resolves no names
  # (systemd.socket(5) reads "v.w.x.y:z" or "[x]:y"), so "localhost" is the IPv4 loopback and
  # "[::1]" the address without its brackets. assertions.nix refuses any other name while
  # systemd owns the socket (api.socketActivation).
  apiHost =
    let
      inherit (cfg.api) host;
    in
    if host == "localhost" then
      "127.0.0.1"
    else if lib.hasPrefix "[" host && lib.hasSuffix "]" host then
      lib.substring 1 (lib.stringLength host - 2) host
    else
      host;
  isIPv4 =
    host:
    let
      octets = builtins.match "([0-9]{1,3})\\.([0-9]{1,3})\\.([0-9]{1,3})\\.([0-9]{1,3})" host;
    in
    octets != null && lib.all (octet: lib.toInt octet <= 255) octets;
  # Hex groups and colons (at least two: "::" is the shortest), an IPv4 tail allowed.
  isIPv6 =
    host:
    builtins.match "[0-9A-Fa-f:.]+" host != null && lib.length (lib.splitString ":" host) >= 3;
  apiAddress = hostPort apiHost cfg.api.port;

  # ---- database and Redis ------------------------------------------------------------------------
  databaseUrl =
    if cfg.database.createLocally then
      # Peer authentication over the socket: the OS user is the database role.
      "postgresql+psycopg:///${cfg.user}?host=/run/postgresql"
    else
      cfg.database.url;
  redisUrl = if cfg.redis.createLocally then "unix://${redisServer.unixSocket}?db=0" else cfg.redis.url;

  localServices =
    lib.optional cfg.database.createLocally "postgresql.target"
    ++ lib.optional cfg.redis.createLocally "redis-fragrance-ai.service";
  # network.target only means the interfaces are configured; a remote database or Redis needs
  # addresses and routes, which network-online.target waits for (systemd.special(7)).
  remoteServices = !cfg.database.createLocally || !cfg.redis.createLocally;
  networkUnits = [ "network.target" ] ++ lib.optional remoteServices "network-online.target";

  # ---- settings -> environment -------------------------------------------------------------------
  # { log_level = "DEBUG"; queue.job_timeout_s = 300; } -> LOG_LEVEL=DEBUG QUEUE__JOB_TIMEOUT_S=300
  # (pydantic-settings' nested delimiter); lists go as JSON, which pydantic-settings parses.
  envValue =
    value:
    if builtins.isBool value then
      lib.boolToString value
    else if builtins.isList value then
      builtins.toJSON value
    else if builtins.isPath value then
      "${value}"
    else
      toString value;
  flattenSettings =
    prefix: attrs:
    lib.concatMapAttrs (
      key: value:
      let
        name = (if prefix == "" then "" else "${prefix}__") + lib.toUpper key;
      in
      if value == null then
        { }
      else if builtins.isAttrs value && !(lib.isDerivation value) then
        flattenSettings name value
      else
        { ${name} = envValue value; }
    ) attrs;

  # The environment of every process: the migration, the API, the workers, fragrance-ai-manage.
  baseEnvironment =
    flattenSettings "" cfg.settings
    // {
      APP_ENV = cfg.profile;
      # A watchdog kill (SIGABRT, see hardening.nix's health) prints every thread's Python
      # stack to the journal: what an operator needs to find a hang, without a core file.
      PYTHONFAULTHANDLER = "1";
      DATA_DIR = stateDir;
      HOME = stateDir;
      # Hugging Face and torch caches (models, kernels) land under CacheDirectory=.
      XDG_CACHE_HOME = cacheDir;
      API_HOST = apiHost;
      API_PORT = toString cfg.api.port;
    }
    // lib.optionalAttrs (databaseUrl != null) { DATABASE_URL = databaseUrl; }
    // lib.optionalAttrs (redisUrl != null) { REDIS_URL = redisUrl; };

  # The API and the workers need the schema migrated and, with createLocally, the local servers.
  appUnit = {
    after = networkUnits ++ [ "fragrance-ai-migrate.service" ] ++ localServices;
    wants = lib.optional remoteServices "network-online.target";
    requires = [ "fragrance-ai-migrate.service" ] ++ localServices;
    wantedBy = [ "fragrance-ai.target" ];
    partOf = [ "fragrance-ai.target" ];
    # Keep retrying (with the back-off in hardening.nix's health) instead of giving up after
    # five quick failures.
    startLimitIntervalSec = 0;
  };
}

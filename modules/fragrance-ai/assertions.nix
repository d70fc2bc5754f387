# What the options cannot say in their types: the assertions that refuse a configuration
# that cannot work, and the warnings for one that works but is likely a mistake.
{
  config,
  lib,
  ...
}:
let
  inherit (import ./common.nix { inherit config lib; })
    apiHost
    cfg
    enabledWorkers
    isIPv4
    isIPv6
    metricsPorts
    queueNames
    ;

  # Settings keys this module sets from its own options; `settings` must not set them too.
  ownedSettings = [
    "app_env"
    "data_dir"
    "database_url"
    "redis_url"
    "api_host"
    "api_port"
    "api_workers"
    "worker_metrics_port"
  ];
  settingsKeys = map lib.toLower (lib.attrNames cfg.settings);

  # scheme://user:password@host...: a password in a URL option would be world-readable.
  hasPassword =
    url:
    let
      userinfo = if url == null then null else builtins.match "[^:]+://([^/@]*)@.*" url;
    in
    userinfo != null && lib.hasInfix ":" (lib.head userinfo);
  isLoopback = host: host == "::1" || lib.hasPrefix "127." host;
in
{
  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.database.createLocally -> cfg.database.url == null;
        message = "services.fragrance-ai.database: set createLocally or url, not both.";
      }
      {
        assertion = cfg.database.createLocally || cfg.database.url != null || cfg.secretsFile != null;
        message = "services.fragrance-ai.database: without createLocally, set url or put DATABASE_URL in secretsFile.";
      }
      {
        assertion = cfg.redis.createLocally -> cfg.redis.url == null;
        message = "services.fragrance-ai.redis: set createLocally or url, not both.";
      }
      {
        assertion = cfg.redis.createLocally || cfg.redis.url != null || cfg.secretsFile != null;
        message = "services.fragrance-ai.redis: without createLocally, set url or put REDIS_URL in secretsFile (workers need Redis).";
      }
      {
        assertion = lib.all (key: !(lib.elem key settingsKeys)) ownedSettings;
        message = "services.fragrance-ai.settings: ${
          lib.concatStringsSep ", " (lib.filter (key: lib.elem key ownedSettings) settingsKeys)
        } come from the module's own options (profile, api.*, database.*, redis.*, workers.*.metricsPort).";
      }
      {
        assertion = enabledWorkers != { };
        message = "services.fragrance-ai.workers: enable at least one worker group, or briefs are never processed.";
      }
      {
        assertion = lib.unique metricsPorts == metricsPorts && !(lib.elem cfg.api.port metricsPorts);
        message = "services.fragrance-ai.workers.*.metricsPort: the replicas' ports (port .. port + replicas - 1) overlap each other or api.port.";
      }
    ]
    ++ lib.mapAttrsToList (name: worker: {
      assertion = worker.queues != [ ];
      message = "services.fragrance-ai.workers.${name}.queues: name at least one of ${lib.concatStringsSep ", " queueNames}.";
    }) enabledWorkers
    ++ lib.mapAttrsToList (name: _: {
      assertion = builtins.match "[a-z0-9][a-z0-9-]*" name != null;
      message = "services.fragrance-ai.workers.${name}: a worker group's name becomes part of unit names; use a-z, 0-9 and -.";
    }) cfg.workers
    ++ lib.mapAttrsToList (name: worker: {
      assertion = worker.gpuDevices != null -> worker.gpu;
      message = "services.fragrance-ai.workers.${name}.gpuDevices is set but gpu is false.";
    }) enabledWorkers
    # A GPU group on the CPU build loads no model and reads every brief with the deterministic
    # parser, healthy-looking; say what to set instead. (Derivations compare by their outPath.)
    ++ lib.mapAttrsToList (name: worker: {
      assertion = worker.gpu -> worker.package != cfg.package || cfg.cudaPackage == cfg.package;
      message = "services.fragrance-ai.workers.${name}: gpu = true, but its package is services.fragrance-ai.package, the CPU build, on which no model loads. Set services.fragrance-ai.cudaPackage to the CUDA build (the flake's packages.x86_64-linux.fragrance-ai-cuda, which its nixosModules.default sets on x86_64-linux) or workers.${name}.package; if services.fragrance-ai.package is itself a CUDA build, set cudaPackage to it too.";
    }) enabledWorkers
    ++ lib.mapAttrsToList (name: worker: {
      assertion = worker.gpuDevices == null || worker.replicas <= lib.length worker.gpuDevices;
      message = "services.fragrance-ai.workers.${name}: replicas = ${toString worker.replicas}, but gpuDevices declares ${
        toString (lib.length worker.gpuDevices)
      }: each replica needs an entry of its own (its GPUs, which only it may open); add entries to gpuDevices or lower replicas.";
    }) enabledWorkers
    ++ [
      {
        # systemd refuses the socket unit (and so the API never starts) on a name.
        assertion = cfg.api.socketActivation -> isIPv4 apiHost || isIPv6 apiHost;
        message = "services.fragrance-ai.api.host = \"${cfg.api.host}\": with api.socketActivation, systemd listens on it (ListenStream=), which takes an IP address, not a name: use an address (\"127.0.0.1\", \"::1\", \"0.0.0.0\", \"::\", \"[::1]\"), or \"localhost\" (taken as 127.0.0.1), or set api.socketActivation = false to have uvicorn resolve the name.";
      }
      {
        assertion = cfg.nginx.enable -> !(lib.elem apiHost [ "0.0.0.0" "::" ]);
        message = "services.fragrance-ai: with nginx.enable, keep api.host on loopback so clients go through nginx.";
      }
    ];

    warnings =
      # A warning, not an assertion: the open port is useless but harmless, and hosts that
      # set this before it was checked keep building.
      lib.optional (cfg.openFirewall && !cfg.nginx.enable && isLoopback apiHost) "services.fragrance-ai.openFirewall opens port ${toString cfg.api.port}, but api.host is ${cfg.api.host} (loopback): nobody outside can connect. Set api.host (e.g. \"0.0.0.0\") or use nginx.enable."
      ++ lib.optional (hasPassword cfg.database.url) "services.fragrance-ai.database.url holds a password, which ends up in the world-readable Nix store; put DATABASE_URL in secretsFile instead."
      ++ lib.optional (hasPassword cfg.redis.url) "services.fragrance-ai.redis.url holds a password, which ends up in the world-readable Nix store; put REDIS_URL in secretsFile instead.";
  };
}

# services.fragrance-ai: the HTTP API, its RQ workers and the schema migration as systemd
# units under fragrance-ai.target, with health checks (Type=notify + WatchdogSec, fed only
# while the process's own check passes), per-unit resource limits, one slice with an overall
# budget, and hardening that opens the NVIDIA devices to GPU workers only.
# Guide: docs/deployment.md. Offline tests: tests/nixos_module/.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    literalExpression
    mkEnableOption
    mkIf
    mkMerge
    mkOption
    types
    ;

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
  # The CLI names a worker by kind (llm or rl); the kind only prefixes the RQ worker's name.
  kindOf = queues: if queues == [ ] || lib.head queues == "llm_inference" then "llm" else "rl";

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

  # NVIDIA device classes, matched by systemd with fnmatch against the names in /proc/devices:
  # nvidia-frontend (/dev/nvidia0..N, /dev/nvidiactl), nvidia-uvm (unified memory, which CUDA
  # needs), nvidia-caps (MIG), nvidia-nvswitch, ... (nixpkgs' ollama module lists the first three
  # by name). With DevicePolicy=closed nothing else beyond /dev/null and friends is reachable.
  nvidiaDevices = [ "char-nvidia*" ];

  # ---- settings -> environment -------------------------------------------------------------
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

  settingsValue = types.nullOr (
    types.oneOf [
      types.bool
      types.int
      types.float
      types.str
      types.path
      (types.listOf (
        types.oneOf [
          types.bool
          types.int
          types.float
          types.str
        ]
      ))
      (types.attrsOf types.anything)
    ]
  );

  # ---- per-unit limits and health, shared by the API and each worker group -----------------
  memorySize = types.strMatching "[0-9]+[KMGT]?|[0-9]+(\\.[0-9]+)?%|infinity";
  cpuPercent = types.strMatching "[0-9]+%";
  # An option whose defaultText, when given, documents a default computed from other options.
  mkUnitOption =
    {
      type,
      default,
      description,
      defaultText ? null,
      example ? null,
    }:
    mkOption (
      { inherit type default description; }
      // lib.optionalAttrs (defaultText != null) { inherit defaultText; }
      // lib.optionalAttrs (example != null) { inherit example; }
    );
  unitOptions = defaults: {
    memoryMax = mkUnitOption {
      type = memorySize;
      default = defaults.memoryMax;
      defaultText = defaults.memoryMaxText or null;
      example = "16G";
      description = "MemoryMax= of each process's unit: past it the kernel OOM-kills the unit, and systemd restarts it.";
    };
    cpuQuota = mkUnitOption {
      type = cpuPercent;
      default = defaults.cpuQuota;
      defaultText = defaults.cpuQuotaText or null;
      example = "800%";
      description = "CPUQuota= of each unit; 100% is one CPU.";
    };
    tasksMax = mkUnitOption {
      type = types.ints.positive;
      default = defaults.tasksMax;
      description = "TasksMax= (threads and processes) of each unit.";
    };
    limitNOFILE = mkUnitOption {
      type = types.ints.positive;
      default = 16384;
      description = "LimitNOFILE= (open files and sockets) of each unit.";
    };
    watchdogSec = mkUnitOption {
      type = types.ints.positive;
      default = defaults.watchdogSec;
      description = ''
        WatchdogSec= of each unit. The process pings systemd every half of this while its own
        health check passes; after this long without a ping, systemd kills it (SIGABRT) and
        restarts it.
      '';
    };
    startTimeoutSec = mkUnitOption {
      type = types.ints.positive;
      default = defaults.startTimeoutSec;
      description = "TimeoutStartSec=: how long the process may take to report ready.";
    };
    stopTimeoutSec = mkUnitOption {
      type = types.ints.positive;
      default = defaults.stopTimeoutSec;
      defaultText = defaults.stopTimeoutSecText or null;
      description = "TimeoutStopSec=: how long a stop may take before SIGKILL.";
    };
  };

  jobTimeout = ((cfg.settings.queue or { }).job_timeout_s or 600);

  workerModule =
    { name, config, ... }:
    {
      options = {
        enable = mkEnableOption "this worker group" // {
          default = true;
        };
        package = mkOption {
          type = types.package;
          default = cfg.package;
          defaultText = literalExpression "config.services.fragrance-ai.package";
          description = "The package these workers run, e.g. a CUDA build for GPU workers while the API keeps the CPU one.";
        };
        queues = mkOption {
          type = types.listOf (types.enum queueNames);
          default = defaultQueues.${name} or [ ];
          defaultText = literalExpression ''{ llm = [ "llm_inference" ]; rl = [ "rl_training" ]; }.''${name} or [ ]'';
          description = "RQ queues this group works, highest priority first.";
        };
        replicas = mkOption {
          type = types.ints.positive;
          default = 1;
          description = "Worker processes, one unit each: fragrance-ai-worker-<name>-<i>.";
        };
        gpu = mkOption {
          type = types.bool;
          default = false;
          description = ''
            Give these workers the NVIDIA devices (DevicePolicy=closed with DeviceAllow= for the
            char-nvidia* classes, PrivateDevices=false for these units only) and run the models
            on CUDA (LLM__DEVICE=cuda unless `settings.llm.device` says otherwise). The host needs
            the driver: see docs/deployment.md.
          '';
        };
        gpuDevices = mkOption {
          type = types.nullOr (types.nonEmptyListOf types.str);
          default = null;
          example = [
            "0"
            "1"
          ];
          description = "GPU indices or UUIDs handed round-robin to the replicas as CUDA_VISIBLE_DEVICES (an entry may list several, \"0,1\"); null: one GPU per replica, replica i on GPU i-1, so replicas never pile onto GPU 0.";
        };
        metricsPort = mkOption {
          type = types.nullOr types.port;
          default = null;
          example = 9101;
          description = "Replica i serves its own /metrics on this port + i - 1 (WORKER_METRICS_PORT); null: off.";
        };
        environment = mkOption {
          type = types.attrsOf types.str;
          default = { };
          description = "Extra environment variables for these workers only.";
        };
      }
      // unitOptions {
        memoryMax = "8G";
        cpuQuota = "400%";
        tasksMax = 1024;
        watchdogSec = 120;
        startTimeoutSec = 600;
        stopTimeoutSec = jobTimeout + 60;
        stopTimeoutSecText = literalExpression "settings.queue.job_timeout_s (600) + 60";
      };
    };

  enabledWorkers = lib.filterAttrs (_: worker: worker.enable) cfg.workers;

  # ---- units --------------------------------------------------------------------------------
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

  baseEnvironment =
    flattenSettings "" cfg.settings
    // {
      APP_ENV = cfg.profile;
      # A watchdog kill (SIGABRT, see healthConfig) prints every thread's Python stack to the
      # journal: what an operator needs to find a hang, without a core file.
      PYTHONFAULTHANDLER = "1";
      DATA_DIR = stateDir;
      HOME = stateDir;
      # Hugging Face and torch caches (models, kernels) land under CacheDirectory=.
      XDG_CACHE_HOME = cacheDir;
      API_HOST = cfg.api.host;
      API_PORT = toString cfg.api.port;
    }
    // lib.optionalAttrs (databaseUrl != null) { DATABASE_URL = databaseUrl; }
    // lib.optionalAttrs (redisUrl != null) { REDIS_URL = redisUrl; };

  # Hardening shared by every unit; `systemd-analyze security` scores it (see the tests).
  commonServiceConfig = {
    User = cfg.user;
    Group = cfg.group;
    SupplementaryGroups = lib.optional cfg.redis.createLocally redisServer.group;
    StateDirectory = stateDirectoryName;
    StateDirectoryMode = "0700";
    CacheDirectory = "fragrance-ai";
    CacheDirectoryMode = "0700";
    WorkingDirectory = stateDir;
    EnvironmentFile = lib.optional (cfg.secretsFile != null) cfg.secretsFile;
    Slice = "fragrance-ai.slice";
    UMask = "0077";
    # No core files: a torch worker's core is gigabytes of model weights, which
    # systemd-coredump would write and keep; the Python stacks (PYTHONFAULTHANDLER) say more.
    LimitCORE = 0;

    CapabilityBoundingSet = [ "" ];
    AmbientCapabilities = [ "" ];
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    DevicePolicy = "closed";
    PrivateUsers = true;
    PrivateMounts = true;
    PrivateIPC = true;
    ProtectClock = true;
    ProtectControlGroups = true;
    ProtectHostname = true;
    ProtectKernelLogs = true;
    ProtectKernelModules = true;
    ProtectKernelTunables = true;
    ProtectProc = "invisible";
    # Not "pid": prometheus-client's process_* metrics need /proc/stat (boot time) and drop
    # all of them without it; torch reads /proc/cpuinfo and /proc/meminfo.
    ProcSubset = "all";
    LockPersonality = true;
    MemoryDenyWriteExecute = true;
    RemoveIPC = true;
    KeyringMode = "private";
    RestrictAddressFamilies = [
      "AF_UNIX"
      "AF_INET"
      "AF_INET6"
    ];
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    SystemCallArchitectures = "native";
    SystemCallFilter = [
      "@system-service"
      "~@privileged"
      "~@resources"
    ];
    SystemCallErrorNumber = "EPERM";
  };

  limitsConfig = unit: {
    MemoryMax = unit.memoryMax;
    CPUQuota = unit.cpuQuota;
    TasksMax = unit.tasksMax;
    LimitNOFILE = unit.limitNOFILE;
  };

  healthConfig = unit: {
    Type = "notify";
    WatchdogSec = unit.watchdogSec;
    # Chosen on purpose: a process that stopped pinging is hung, so a warm SIGTERM (handled
    # by the stuck main thread) would wait out TimeoutStopSec for nothing. SIGABRT makes
    # Python's faulthandler print every thread's stack (PYTHONFAULTHANDLER=1) and the process
    # die at once; LimitCORE=0 keeps the kernel from writing a core. SIGKILL follows after
    # TimeoutAbortSec if even that does not end it.
    WatchdogSignal = "SIGABRT";
    TimeoutAbortSec = 30;
    TimeoutStartSec = unit.startTimeoutSec;
    TimeoutStopSec = unit.stopTimeoutSec;
    # A hung or crashed process comes back; one that keeps failing backs off from 1 s to 2 min.
    Restart = "on-failure";
    # Exit status 2 is the CLI's "cannot run as configured" (a configuration error, a schema
    # newer than this version knows): restarting cannot fix it, and the journal keeps the
    # one message that says what to do.
    RestartPreventExitStatus = 2;
    RestartSec = "1s";
    RestartSteps = 10;
    RestartMaxDelaySec = "2min";
  };

  # The API and the workers need the schema migrated and, with createLocally, the local servers.
  appUnit = {
    after = networkUnits ++ [ "fragrance-ai-migrate.service" ] ++ localServices;
    wants = lib.optional remoteServices "network-online.target";
    requires = [ "fragrance-ai-migrate.service" ] ++ localServices;
    wantedBy = [ "fragrance-ai.target" ];
    partOf = [ "fragrance-ai.target" ];
    # Keep retrying (with the back-off above) instead of giving up after five quick failures.
    startLimitIntervalSec = 0;
  };

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
      commonServiceConfig
      // limitsConfig cfg.api
      // healthConfig cfg.api
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

  workerUnit =
    name: worker: index:
    let
      gpuEnvironment = lib.optionalAttrs worker.gpu (
        {
          # CUDA's JIT cache would go to ~/.nv; keep it with the other caches.
          CUDA_CACHE_PATH = "${cacheDir}/nv";
        }
        // lib.optionalAttrs (!((cfg.settings.llm or { }) ? device)) { LLM__DEVICE = "cuda"; }
        // {
          # Each replica loads its own copy of the models: one device each, unless told.
          CUDA_VISIBLE_DEVICES =
            if worker.gpuDevices == null then
              toString (index - 1)
            else
              lib.elemAt worker.gpuDevices (lib.mod (index - 1) (lib.length worker.gpuDevices));
        }
      );
    in
    appUnit
    // {
      description = "Fragrance AI worker ${name} #${toString index} (${lib.concatStringsSep ", " worker.queues})";
      environment =
        baseEnvironment
        // gpuEnvironment
        // lib.optionalAttrs (worker.metricsPort != null) {
          WORKER_METRICS_PORT = toString (worker.metricsPort + index - 1);
        }
        // worker.environment;
      serviceConfig =
        commonServiceConfig
        // limitsConfig worker
        // healthConfig worker
        // {
          ExecStart = "${lib.getExe' worker.package "fragrance-ai"} worker ${kindOf worker.queues} ${
            lib.concatMapStringsSep " " (queue: "--queue ${queue}") worker.queues
          }";
          NotifyAccess = "main";
          # SIGTERM is RQ's warm shutdown: the running job finishes (TimeoutStopSec) first.
          KillSignal = "SIGTERM";
          # torch and CUDA need two exceptions to the shared hardening:
          # - oneDNN (torch's CPU kernels), the CUDA driver's PTX JIT and Triton generate machine
          #   code at run time, which needs writable+executable memory (under
          #   MemoryDenyWriteExecute a torch Conv2d fails: "could not create a primitive");
          MemoryDenyWriteExecute = false;
          # - OpenMP pins threads (sched_setaffinity) and NUMA-aware allocators call mbind and
          #   set_mempolicy, all in @resources.
          SystemCallFilter = [
            "@system-service"
            "@resources"
            "~@privileged"
          ];
        }
        // lib.optionalAttrs worker.gpu {
          # Only GPU workers see devices beyond the minimal /dev: the NVIDIA ones, by class.
          PrivateDevices = false;
          DeviceAllow = nvidiaDevices;
        };
    };

  workerUnits = lib.concatMapAttrs (
    name: worker:
    lib.listToAttrs (
      map (index: lib.nameValuePair "fragrance-ai-worker-${name}-${toString index}" (workerUnit name worker index)) (
        lib.range 1 worker.replicas
      )
    )
  ) enabledWorkers;

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

  migrateUnit = {
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
    serviceConfig = commonServiceConfig // {
      Type = "oneshot";
      RemainAfterExit = true;
      TimeoutStartSec = "15min";
    };
  };

  # ---- fragrance-ai-manage: the CLI as the service runs it -----------------------------------
  # systemd-run starts the command as a transient unit with the services' user, groups,
  # environment and state directory; systemd (root) reads secretsFile, so the file may stay
  # readable by root only, as sops-nix and agenix write it. Like mastodon-tootctl and
  # netbox-manage, but without copying secrets into a shell.
  manageProperties =
    [
      "User=${cfg.user}"
      "Group=${cfg.group}"
      "WorkingDirectory=${stateDir}"
      "StateDirectory=${stateDirectoryName}"
      "StateDirectoryMode=0700"
      "Slice=fragrance-ai.slice"
      "UMask=0077"
      "LimitCORE=0"
    ]
    ++ map (group: "SupplementaryGroups=${group}") commonServiceConfig.SupplementaryGroups
    ++ map (file: "EnvironmentFile=${file}") commonServiceConfig.EnvironmentFile;
  manageEnvironment = baseEnvironment // {
    # pg_dump and pg_restore for `db backup` and `db restore`.
    PATH = "${lib.getBin config.services.postgresql.package}/bin:/run/current-system/sw/bin";
  };
  manageScript = pkgs.writeShellScriptBin "fragrance-ai-manage" ''
    # fragrance-ai-manage ARGS...: `fragrance-ai ARGS...` as the Fragrance AI services run it.
    set -euo pipefail
    if [[ $(id -u) -ne 0 ]]; then
      if command -v sudo >/dev/null; then exec sudo -- "$0" "$@"; fi
      echo "fragrance-ai-manage: run it as root (it starts a unit with systemd-run)" >&2
      exit 1
    fi
    # A terminal gets a terminal (prompts, colours); pipes and files get plain pipes.
    if [[ -t 0 && -t 1 ]]; then io=--pty; else io=--pipe; fi
    exec ${lib.getExe' config.systemd.package "systemd-run"} --quiet --wait --collect \
      --service-type=exec "$io" \
      ${lib.concatMapStringsSep " \\
  " (property: "--property=${lib.escapeShellArg property}") manageProperties} \
      ${lib.concatStringsSep " \\
  " (lib.mapAttrsToList (name: value: "--setenv=${lib.escapeShellArg "${name}=${value}"}") manageEnvironment)} \
      -- ${exe} "$@"
  '';

  metricsPorts = lib.concatLists (
    lib.mapAttrsToList (
      _: worker:
      lib.optionals (worker.metricsPort != null) (
        lib.range worker.metricsPort (worker.metricsPort + worker.replicas - 1)
      )
    ) enabledWorkers
  );
  settingsKeys = map lib.toLower (lib.attrNames cfg.settings);
  # scheme://user:password@host...: a password in a URL option would be world-readable.
  hasPassword =
    url:
    let
      userinfo = if url == null then null else builtins.match "[^:]+://([^/@]*)@.*" url;
    in
    userinfo != null && lib.hasInfix ":" (lib.head userinfo);
  # nginx reaches the API where it listens (IPv6 literals in brackets).
  hostPort =
    host: port: if lib.hasInfix ":" host then "[${host}]:${toString port}" else "${host}:${toString port}";
  apiAddress = hostPort cfg.api.host cfg.api.port;
  isLoopback = host: host == "localhost" || host == "::1" || lib.hasPrefix "127." host;

  # ---- monitoring ------------------------------------------------------------------------------
  # Prometheus on this host scrapes the API and every worker replica's port. Workers serve
  # /metrics on API_HOST too (fragrance_ai/worker/main.py); a wildcard address is reached on loopback.
  prometheusEnabled = config.services.prometheus.enable;
  grafanaEnabled = config.services.grafana.enable;
  scrapeHost =
    if cfg.api.host == "0.0.0.0" then "127.0.0.1"
    else if cfg.api.host == "::" then "::1"
    else cfg.api.host;
  scrapeConfigs = [
    {
      job_name = "fragrance-ai-api";
      static_configs = [ { targets = [ (hostPort scrapeHost cfg.api.port) ]; } ];
    }
  ]
  ++ lib.optional (metricsPorts != [ ]) {
    job_name = "fragrance-ai-workers";
    static_configs = lib.mapAttrsToList (name: worker: {
      targets = map (port: hostPort scrapeHost port) (
        lib.range worker.metricsPort (worker.metricsPort + worker.replicas - 1)
      );
      labels.group = name;
    }) (lib.filterAttrs (_: worker: worker.metricsPort != null) enabledWorkers);
  };
in
{
  options.services.fragrance-ai = {
    enable = mkEnableOption "Fragrance AI: the HTTP API and its LLM and RL workers";

    package = mkOption {
      type = types.package;
      description = "The fragrance-ai package; the flake's nixosModules.default sets its own.";
    };

    user = mkOption {
      type = types.str;
      default = "fragrance-ai";
      description = ''
        System user the units run as; the module creates it while it is the default. With
        database.createLocally it is also the PostgreSQL role and database name (peer
        authentication), so a changed name means a new, empty database.
      '';
    };

    group = mkOption {
      type = types.str;
      default = "fragrance-ai";
      description = "Group the units run as; the module creates it while it is the default.";
    };

    dataDir = mkOption {
      type = types.strMatching "/var/lib/[^/].*";
      default = "/var/lib/fragrance-ai";
      example = "/var/lib/fragrance/ai";
      description = ''
        State directory (DATA_DIR: RL policies, database backups, schema-revision). It must be
        under /var/lib (the type checks it): systemd creates it as the StateDirectory= of every unit.
      '';
    };

    profile = mkOption {
      type = types.enum [
        "development"
        "staging"
        "production"
      ];
      default = "production";
      description = "APP_ENV: which profile of configs/llm_ensemble.yaml and which env file apply.";
    };

    settings = mkOption {
      type = types.attrsOf settingsValue;
      default = { };
      example = literalExpression ''
        {
          log_level = "INFO";
          queue.job_timeout_s = 900;
          llm.roles.parser.model_path = "/var/lib/models/qwen2-7b";
        }
      '';
      description = ''
        Application settings (fragrance_ai/settings.py), rendered to its environment:
        nested keys join with `__` and are upper-cased (`queue.job_timeout_s` becomes
        QUEUE__JOB_TIMEOUT_S), lists are passed as JSON. Database, Redis, API address and
        profile come from this module's own options. Nothing secret here: it lands in the
        world-readable Nix store; use {option}`secretsFile`.
      '';
    };

    secretsFile = mkOption {
      # A string, never a path literal (which would be copied into the world-readable store),
      # and never a path inside the store.
      type = types.nullOr (
        types.pathWith {
          inStore = false;
          absolute = true;
        }
      );
      default = null;
      example = "/run/secrets/fragrance-ai.env";
      description = ''
        An environment file (KEY=value lines) read by systemd when each unit starts, e.g.
        `DATABASE_URL=postgresql+psycopg://fragrance:secret@db.internal/fragrance`. Its values
        win over the module's. It stays outside the Nix store; sops-nix or agenix can write it.
      '';
    };

    api =
      {
        host = mkOption {
          type = types.str;
          default = "127.0.0.1";
          example = "0.0.0.0";
          description = "Address the API listens on (API_HOST).";
        };
        port = mkOption {
          type = types.port;
          default = 8000;
          description = "Port the API listens on (API_PORT).";
        };
        workers = mkOption {
          type = types.ints.between 1 64;
          default = 1;
          description = "uvicorn worker processes in the API unit (API_WORKERS).";
        };
        socketActivation = mkOption {
          type = types.bool;
          default = true;
          description = ''
            systemd listens on host:port (fragrance-ai-api.socket) and passes the socket to the
            API, so restarting the API (`nixos-rebuild switch`, a crash) queues connections in
            the kernel instead of refusing them. The API unit is then restarted in one step
            (stopIfChanged = false) to keep the socket open. switch-to-configuration does not
            restart changed sockets: after changing api.host or api.port, run
            `systemctl restart fragrance-ai-api.socket`.
          '';
        };
      }
      // unitOptions {
        memoryMax = "${toString (2 * cfg.api.workers)}G";
        memoryMaxText = literalExpression ''"''${toString (2 * api.workers)}G"'';
        cpuQuota = "${toString (200 * cfg.api.workers)}%";
        cpuQuotaText = literalExpression ''"''${toString (200 * api.workers)}%"'';
        tasksMax = 512;
        watchdogSec = 30;
        startTimeoutSec = 120;
        stopTimeoutSec = 30;
      };

    workers = mkOption {
      type = types.attrsOf (types.submodule workerModule);
      default = { };
      example = literalExpression ''
        {
          llm = { replicas = 2; gpu = true; memoryMax = "24G"; };
          rl.cpuQuota = "800%";
          batch = { queues = [ "rl_training" "llm_inference" ]; replicas = 4; };
        }
      '';
      description = ''
        Worker groups; each runs `replicas` units fragrance-ai-worker-<name>-<i>. The module
        always defines `llm` (queue llm_inference) and `rl` (queue rl_training), so setting
        `workers.llm.replicas = 3` keeps `rl`; disable one with `workers.rl.enable = false`.
      '';
    };

    database = {
      createLocally = mkOption {
        type = types.bool;
        default = true;
        description = "Provision a local PostgreSQL database and role `fragrance-ai`, reached over its socket with peer authentication.";
      };
      backupBeforeMigrate = mkOption {
        type = types.bool;
        default = cfg.database.createLocally;
        defaultText = literalExpression "database.createLocally";
        description = ''
          Run `fragrance-ai db backup` (pg_dump into dataDir/backups, keeping the last few)
          before each migration run, so a failed upgrade can be undone with
          `fragrance-ai-manage db restore FILE` (scripts/deploy does it). On by default for the
          local database, which has no other backup on this host; off for an external one,
          which usually has its own (snapshots, point-in-time recovery) and where a dump over
          the network at every start would slow every restart. pg_dump comes from
          services.postgresql.package and must not be older than the server.
        '';
      };
      url = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "postgresql+psycopg://fragrance@db.internal/fragrance";
        description = "DATABASE_URL of an external database, without a password (put the whole URL in secretsFile when it has one).";
      };
    };

    redis = {
      createLocally = mkOption {
        type = types.bool;
        default = true;
        description = "Run services.redis.servers.fragrance-ai on a Unix socket only, with the units in its group.";
      };
      url = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "redis://redis.internal:6379/0";
        description = "REDIS_URL of an external Redis, without a password (put it in secretsFile when it has one).";
      };
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the API port in the firewall (which only helps with api.host off loopback), or 80 and 443 when {option}`nginx.enable` is set.";
    };

    nginx = {
      enable = mkEnableOption "an nginx virtual host proxying to the API (the load balancer)";
      virtualHost = mkOption {
        type = types.str;
        default = config.networking.fqdnOrHostName or "localhost";
        defaultText = literalExpression "config.networking.fqdnOrHostName";
        example = "fragrance.example.com";
        description = "Name of the virtual host.";
      };
      enableACME = mkOption {
        type = types.bool;
        default = false;
        description = "Get a certificate from Let's Encrypt (needs security.acme.acceptTerms and defaults.email).";
      };
      forceSSL = mkOption {
        type = types.bool;
        default = cfg.nginx.enableACME;
        defaultText = literalExpression "nginx.enableACME";
        description = "Redirect HTTP to HTTPS.";
      };
    };

    slice = {
      memoryMax = mkOption {
        type = types.nullOr memorySize;
        default = "80%";
        description = "MemoryMax= of fragrance-ai.slice, the budget of all units together (a share of RAM, or a size); null: none.";
      };
      cpuQuota = mkOption {
        type = types.nullOr cpuPercent;
        default = null;
        example = "1200%";
        description = "CPUQuota= of fragrance-ai.slice; null: none.";
      };
    };
  };

  config = mkMerge [
    {
      # attrsOf merges per name, so a user's `workers.llm.replicas = 2` keeps `rl`.
      services.fragrance-ai.workers = {
        llm = lib.mkDefault { };
        rl = lib.mkDefault { };
      };
    }
    (mkIf cfg.enable {
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
      ++ [
        {
          assertion = cfg.nginx.enable -> !(lib.elem cfg.api.host [ "0.0.0.0" "::" ]);
          message = "services.fragrance-ai: with nginx.enable, keep api.host on loopback so clients go through nginx.";
        }
      ];

      warnings =
        # A warning, not an assertion: the open port is useless but harmless, and hosts that
        # set this before it was checked keep building.
        lib.optional (cfg.openFirewall && !cfg.nginx.enable && isLoopback cfg.api.host) "services.fragrance-ai.openFirewall opens port ${toString cfg.api.port}, but api.host is ${cfg.api.host} (loopback): nobody outside can connect. Set api.host (e.g. \"0.0.0.0\") or use nginx.enable."
        ++ lib.optional (hasPassword cfg.database.url) "services.fragrance-ai.database.url holds a password, which ends up in the world-readable Nix store; put DATABASE_URL in secretsFile instead."
        ++ lib.optional (hasPassword cfg.redis.url) "services.fragrance-ai.redis.url holds a password, which ends up in the world-readable Nix store; put REDIS_URL in secretsFile instead.";

      # Created while they are the defaults; a user or group named otherwise is the host's own.
      users.users = mkIf (cfg.user == "fragrance-ai") {
        fragrance-ai = {
          isSystemUser = true;
          inherit (cfg) group;
          home = stateDir;
          description = "Fragrance AI";
        };
      };
      users.groups = mkIf (cfg.group == "fragrance-ai") { fragrance-ai = { }; };

      services.postgresql = mkIf cfg.database.createLocally {
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

      services.redis.servers.fragrance-ai = mkIf cfg.redis.createLocally {
        enable = true;
        port = 0; # the Unix socket only
      };

      # The driver's user-space libraries (libcuda) appear under /run/opengl-driver/lib, where
      # nixpkgs' CUDA builds look; the kernel driver itself is the host's choice (docs).
      hardware.graphics.enable = mkIf (lib.any (worker: worker.gpu) (lib.attrValues enabledWorkers)) (
        lib.mkDefault true
      );

      systemd.targets.fragrance-ai = {
        description = "Fragrance AI: API, workers and migrations";
        wantedBy = [ "multi-user.target" ];
      };

      systemd.slices.fragrance-ai = {
        description = "Fragrance AI, all units together";
        sliceConfig =
          lib.optionalAttrs (cfg.slice.memoryMax != null) { MemoryMax = cfg.slice.memoryMax; }
          // lib.optionalAttrs (cfg.slice.cpuQuota != null) { CPUQuota = cfg.slice.cpuQuota; };
      };

      systemd.services = {
        fragrance-ai-migrate = migrateUnit;
        fragrance-ai-api = apiUnit;
      }
      // workerUnits;

      systemd.sockets.fragrance-ai-api = mkIf cfg.api.socketActivation apiSocket;

      environment.systemPackages = [ manageScript ];

      # mkIf on each leaf: a condition on services.prometheus.enable around the whole of
      # services.prometheus would be defined in terms of itself.
      services.prometheus = {
        scrapeConfigs = mkIf prometheusEnabled scrapeConfigs;
        # Alert and recording rules on the metrics the application exports.
        ruleFiles = mkIf prometheusEnabled [ ../fragrance_ai/configs/prometheus/rules.yml ];
      };

      services.grafana = {
        provision.enable = mkIf grafanaEnabled true;
        # Every dashboard JSON in fragrance_ai/configs/grafana, read-only (edits belong in the repository).
        provision.dashboards.settings = mkIf grafanaEnabled {
          providers = [
            {
              name = "fragrance-ai";
              folder = "Fragrance AI";
              options.path = ../fragrance_ai/configs/grafana;
              disableDeletion = true;
              allowUiUpdates = false;
            }
          ];
        };
        # This host's Prometheus as a data source, when it runs one.
        provision.datasources.settings = mkIf (grafanaEnabled && prometheusEnabled) {
          datasources = [
            {
              name = "Prometheus (fragrance-ai)";
              uid = "fragrance-ai-prometheus";
              type = "prometheus";
              url = "http://${hostPort "127.0.0.1" config.services.prometheus.port}";
            }
          ];
        };
      };

      services.nginx = mkIf cfg.nginx.enable {
        enable = true;
        recommendedProxySettings = true;
        virtualHosts.${cfg.nginx.virtualHost} = {
          inherit (cfg.nginx) enableACME forceSSL;
          locations."/".proxyPass = "http://${apiAddress}";
          # Prometheus scrapes the API directly; the public side does not see /metrics.
          locations."= /metrics".return = "404";
        };
      };

      networking.firewall.allowedTCPPorts = mkIf cfg.openFirewall (
        if cfg.nginx.enable then
          [
            80
            443
          ]
        else
          [ cfg.api.port ]
      );
    })
  ];
}

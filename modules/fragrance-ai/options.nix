# Every option of services.fragrance-ai, grouped by concern: the service as a whole, secrets,
# the API, the worker groups (GPU included), the database, Redis, nginx and the firewall, and
# the slice that holds every unit. Nothing here renders a unit; the files next to it do (see
# default.nix). Monitoring has no options of its own: monitoring.nix follows
# services.prometheus.enable and services.grafana.enable, and the workers' metricsPort.
{
  config,
  lib,
  ...
}:
let
  inherit (lib)
    literalExpression
    mkEnableOption
    mkOption
    types
    ;

  inherit (import ./common.nix { inherit config lib; }) cfg defaultQueues queueNames;

  # A value of `settings`: what flattenSettings (common.nix) can render to a variable.
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

  # ---- per-unit limits and health, shared by the API and each worker group -----------------------
  # (hardening.nix's limits and health turn them into serviceConfig)
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
        WatchdogSec= of each unit. The process pings systemd every half of this while it is
        alive (the API's event loop answers, a worker's loop beats), whatever its database and
        Redis do; after this long without a ping, systemd kills it (SIGABRT) and restarts it.
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

  # ---- a worker group (workers.<name>) -----------------------------------------------------------
  # 600 repeats the application's default of queue.job_timeout_s (QueueSettings, settings.py).
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
          default = if config.gpu && cfg.cudaPackage != null then cfg.cudaPackage else cfg.package;
          defaultText = literalExpression "if gpu && cudaPackage != null then config.services.fragrance-ai.cudaPackage else config.services.fragrance-ai.package";
          description = ''
            The package these workers run. A GPU group (gpu = true) runs
            {option}`services.fragrance-ai.cudaPackage` by default, and is refused by an
            assertion while that is null and this is the CPU build: the CPU build would leave
            every model unloaded and read briefs with the deterministic parser.
          '';
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

        # GPU
        gpu = mkOption {
          type = types.bool;
          default = false;
          description = ''
            Run these workers' models on CUDA, with the CUDA package
            ({option}`services.fragrance-ai.cudaPackage`) and LLM__DEVICE=cuda unless
            `settings.llm.device` says otherwise. Each replica sees only its own GPUs
            (see gpuDevices): DevicePolicy=closed with DeviceAllow= for its /dev/nvidia<index>,
            /dev/nvidiactl, /dev/nvidia-uvm and /dev/nvidia-uvm-tools, PrivateDevices=false for
            these units only, and CUDA_DEVICE_ORDER=PCI_BUS_ID with CUDA_VISIBLE_DEVICES. The
            host needs the driver: see docs/deployment.md.
          '';
        };
        gpuDevices = mkOption {
          type = types.nullOr (types.nonEmptyListOf (types.strMatching "[0-9]+(,[0-9]+)*"));
          default = null;
          example = [
            "0"
            "1"
            "2,3"
          ];
          description = ''
            The GPUs of each replica, by index, one entry per replica (replica i gets entry i;
            an entry may list several, "2,3"); more replicas than entries are refused. An index
            is nvidia-smi's, which with CUDA_DEVICE_ORDER=PCI_BUS_ID is CUDA's too, and names
            the device node the replica may open, /dev/nvidia<index> (nvidia-smi -q shows each
            GPU's "Minor Number"; they agree on common hosts). Not UUIDs: the device nodes are
            named by index. null: one GPU per replica, replica i on GPU i-1.
          '';
        };

        # Monitoring and environment
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
      # Limits and health
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
in
{
  options.services.fragrance-ai = {
    # ---- the service -----------------------------------------------------------------------------
    enable = mkEnableOption "Fragrance AI: the HTTP API and its LLM and RL workers";

    package = mkOption {
      type = types.package;
      description = "The fragrance-ai package; the flake's nixosModules.default sets its own.";
    };

    cudaPackage = mkOption {
      type = types.nullOr types.package;
      default = null;
      defaultText = literalExpression "the flake's packages.<system>.fragrance-ai-cuda where it has one (x86_64-linux), else null";
      description = ''
        The fragrance-ai package built on CUDA torch, which GPU worker groups (gpu = true) run
        unless their own `package` is set; the flake's nixosModules.default sets its
        fragrance-ai-cuda. On the CPU build a GPU group would load no model (torch sees no
        GPU) and read every brief with the deterministic parser, so an assertion refuses that.
      '';
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
      description = "APP_ENV: which profile of the yaml files in configs/ and which env file apply.";
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

    # ---- secrets ---------------------------------------------------------------------------------
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

    # ---- the HTTP API (api.nix) ------------------------------------------------------------------
    api =
      {
        host = mkOption {
          type = types.str;
          default = "127.0.0.1";
          example = "0.0.0.0";
          description = ''
            Address the API listens on (API_HOST): an IPv4 or IPv6 address ("::1" or "[::1]"),
            or "localhost", which the module takes as 127.0.0.1. With socketActivation systemd
            listens on it, and systemd takes addresses only: another name is refused by an
            assertion (without socketActivation, uvicorn resolves it).
          '';
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

    # ---- the RQ workers, GPU ones included (workers.nix) -----------------------------------------
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

    # ---- the database (database.nix; migrations: migrate.nix) ------------------------------------
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
          Back the database up (pg_dump into dataDir/backups, keeping the last few) before a
          start that migrates it (`fragrance-ai migrate --backup-if-pending`: only when a
          migration is pending, so the restarts that migrate nothing dump nothing), so a failed
          upgrade can be undone with `fragrance-ai-manage db restore FILE` (scripts/deploy does
          it). On by default for the local database, which has no other backup on this host;
          off for an external one, which usually has its own (snapshots, point-in-time
          recovery). pg_dump comes from services.postgresql.package and must not be older than
          the server.
        '';
      };
      url = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "postgresql+psycopg://fragrance@db.internal/fragrance";
        description = "DATABASE_URL of an external database, without a password (put the whole URL in secretsFile when it has one).";
      };
    };

    # ---- Redis, the queue (redis.nix) ------------------------------------------------------------
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

    # ---- network: the firewall and nginx (nginx.nix) ---------------------------------------------
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

    # ---- all units together (target.nix) ---------------------------------------------------------
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

  # The default worker groups, as definitions rather than the option's default: attrsOf merges
  # per name, so a user's `workers.llm.replicas = 2` keeps `rl`.
  config.services.fragrance-ai.workers = {
    llm = lib.mkDefault { };
    rl = lib.mkDefault { };
  };
}

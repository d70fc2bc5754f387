# Not a module: the serviceConfig every unit shares, and what a unit adds to it.
#   service  the user, directories and sandbox of every unit (migrate, API, workers); scored
#            by `systemd-analyze security` (tests/nixos_module/test_hardening.py)
#   limits   the per-unit resource limits of the API and of each worker group
#   health   Type=notify with a watchdog, and the restart policy, of the API and the workers
#   worker   the two exceptions torch needs, for every worker
#   gpu      a replica's own NVIDIA devices, for GPU workers only
# Imported by api.nix, workers.nix, migrate.nix and manage.nix:
# `hardening = import ./hardening.nix { inherit lib common; };`.
{ lib, common }:
let
  inherit (common) cfg redisServer stateDir stateDirectoryName;
in
{
  service = {
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

  # `unit` is cfg.api or a worker group: both have the options of options.nix's unitOptions.
  limits = unit: {
    MemoryMax = unit.memoryMax;
    CPUQuota = unit.cpuQuota;
    TasksMax = unit.tasksMax;
    LimitNOFILE = unit.limitNOFILE;
  };

  health = unit: {
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

  # torch and CUDA need two exceptions to the shared hardening:
  worker = {
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
  };

  # Only GPU workers see devices beyond the minimal /dev, and each replica only its own GPUs
  # (`indices`, as in /dev/nvidia<index>) and what CUDA needs beside them: the control device,
  # unified memory and its tools device. Named by path, not by class (nixpkgs' ollama module
  # allows "char-nvidia-frontend", the class of /dev/nvidiactl and of every /dev/nvidia<N>
  # alike): systemd resolves the paths to device numbers when the unit starts, so the NVIDIA
  # driver (hardware.nvidia, whose udev rules create them, nvidia-uvm included) must be loaded
  # by then, as NixOS does at boot. nvidia-caps, read-only, is by class: MIG's capability
  # devices (/dev/nvidia-caps/*), which a MIG slice needs, and which give no other GPU.
  # With DevicePolicy=closed nothing else beyond /dev/null and friends is reachable.
  gpu = indices: {
    PrivateDevices = false;
    DeviceAllow =
      map (index: "/dev/nvidia${index} rw") indices
      ++ [
        "/dev/nvidiactl rw"
        "/dev/nvidia-uvm rw"
        "/dev/nvidia-uvm-tools rw"
        "char-nvidia-caps r"
      ];
  };
}

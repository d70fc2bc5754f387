# The RQ workers: each enabled group of `workers` runs `replicas` units
# fragrance-ai-worker-<name>-<i> (named units, as nixpkgs' mastodon module does, not
# templates), GPU groups on the CUDA package with each replica's own GPUs only; and the host's
# graphics driver libraries when a group uses the GPU.
{
  config,
  lib,
  ...
}:
let
  common = import ./common.nix { inherit config lib; };
  hardening = import ./hardening.nix { inherit lib common; };
  inherit (common)
    appUnit
    baseEnvironment
    cacheDir
    cfg
    enabledWorkers
    ;

  # The CLI names a worker by kind (llm or rl); the kind only prefixes the RQ worker's name.
  kindOf = queues: if queues == [ ] || lib.head queues == "llm_inference" then "llm" else "rl";

  workerUnit =
    name: worker: index:
    let
      # Each replica loads its own copy of the models onto its own GPUs: replica i on GPU i-1,
      # or on gpuDevices' entry i (assertions.nix refuses more replicas than entries).
      devices =
        if worker.gpuDevices == null then
          toString (index - 1)
        else
          lib.elemAt worker.gpuDevices (lib.mod (index - 1) (lib.length worker.gpuDevices));
      gpuEnvironment = lib.optionalAttrs worker.gpu (
        {
          # CUDA's JIT cache would go to ~/.nv; keep it with the other caches.
          CUDA_CACHE_PATH = "${cacheDir}/nv";
        }
        // lib.optionalAttrs (!((cfg.settings.llm or { }) ? device)) { LLM__DEVICE = "cuda"; }
        // {
          # CUDA numbers GPUs fastest first unless told; in PCI bus order its indices are
          # nvidia-smi's, and the device nodes' that DeviceAllow= opens.
          CUDA_DEVICE_ORDER = "PCI_BUS_ID";
          CUDA_VISIBLE_DEVICES = devices;
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
        hardening.service
        // hardening.limits worker
        // hardening.health worker
        // {
          ExecStart = "${lib.getExe' worker.package "fragrance-ai"} worker ${kindOf worker.queues} ${
            lib.concatMapStringsSep " " (queue: "--queue ${queue}") worker.queues
          }";
          NotifyAccess = "main";
          # SIGTERM is RQ's warm shutdown: the running job finishes (TimeoutStopSec) first.
          KillSignal = "SIGTERM";
        }
        // hardening.worker
        // lib.optionalAttrs worker.gpu (hardening.gpu (lib.splitString "," devices));
    };

  workerUnits = lib.concatMapAttrs (
    name: worker:
    lib.listToAttrs (
      map (index: lib.nameValuePair "fragrance-ai-worker-${name}-${toString index}" (workerUnit name worker index)) (
        lib.range 1 worker.replicas
      )
    )
  ) enabledWorkers;
in
{
  config = lib.mkIf cfg.enable {
    systemd.services = workerUnits;

    # The driver's user-space libraries (libcuda) appear under /run/opengl-driver/lib, where
    # nixpkgs' CUDA builds look; the kernel driver itself is the host's choice (docs).
    hardware.graphics.enable = lib.mkIf (lib.any (worker: worker.gpu) (lib.attrValues enabledWorkers)) (
      lib.mkDefault true
    );
  };
}

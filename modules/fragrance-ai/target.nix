# What groups the units: fragrance-ai.target, which starts them all (each unit is wantedBy and
# partOf it), and fragrance-ai.slice, which holds them all (hardening.nix's Slice=) under the
# overall budget of the `slice` options.
{
  config,
  lib,
  ...
}:
let
  inherit (import ./common.nix { inherit config lib; }) cfg;
in
{
  config = lib.mkIf cfg.enable {
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
  };
}

# Evaluates modules/fragrance-ai/ with nixpkgs' lib.evalModules, without nixpkgs itself:
# the NixOS options the module sets are declared here as minimal stand-ins (freeform where
# NixOS's own types would only add checks we do not exercise). Prints what the tests assert on:
# failed assertions, warnings, the units (with their rendered unit files), users, PostgreSQL,
# Redis, nginx, firewall and hardware settings.
#
#   nix-instantiate --eval --strict --json tests/nixos_module/eval.nix \
#     --argstr nixpkgsLib "$NIXPKGS_LIB" --arg userConfig '{ services.fragrance-ai.enable = true; }'
{
  nixpkgsLib,
  userConfig ? { },
}:
let
  lib = import (/. + nixpkgsLib);
  inherit (lib) mkOption types;

  freeform = types.submodule { freeformType = types.attrsOf types.anything; };
  unit = types.submodule {
    freeformType = types.attrsOf types.anything;
    options = {
      serviceConfig = mkOption {
        type = types.attrsOf types.anything;
        default = { };
      };
      environment = mkOption {
        type = types.attrsOf types.str;
        default = { };
      };
    };
  };
  redisServer = types.submodule (
    { name, ... }:
    {
      freeformType = types.attrsOf types.anything;
      # Defaults as in nixos/modules/services/databases/redis.nix.
      options = {
        enable = mkOption {
          type = types.bool;
          default = false;
        };
        user = mkOption {
          type = types.str;
          default = "redis-${name}";
        };
        group = mkOption {
          type = types.str;
          default = "redis-${name}";
        };
        unixSocket = mkOption {
          type = types.nullOr types.str;
          default = "/run/redis-${name}/redis.sock";
        };
      };
    }
  );

  # A derivation as far as lib.getExe and string interpolation care.
  fakePackage = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  # The writers the module calls, keeping the text where the tests can read it: a script a
  # unit runs (ExecStopPost=...) is a real file in the store, which a test can run.
  pkgs = {
    writeShellScriptBin = name: text: fakePackage name // { inherit text; };
    writeShellScript = name: text: builtins.toFile name "#!/usr/bin/env bash\n${text}";
  };

  # grafana.nix's provision.*.settings: null, or a YAML file's content with its list.
  provisioning =
    list:
    mkOption {
      type = types.nullOr (
        types.submodule {
          freeformType = types.attrsOf types.anything;
          options.${list} = mkOption {
            type = types.listOf types.anything;
            default = [ ];
          };
        }
      );
      default = null;
    };

  standIns = {
    options = {
      assertions = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      warnings = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      users.users = mkOption {
        type = types.attrsOf freeform;
        default = { };
      };
      users.groups = mkOption {
        type = types.attrsOf freeform;
        default = { };
      };
      systemd.services = mkOption {
        type = types.attrsOf unit;
        default = { };
      };
      systemd.targets = mkOption {
        type = types.attrsOf freeform;
        default = { };
      };
      systemd.slices = mkOption {
        type = types.attrsOf freeform;
        default = { };
      };
      systemd.sockets = mkOption {
        type = types.attrsOf freeform;
        default = { };
      };
      systemd.package = mkOption {
        type = types.anything;
        default = fakePackage "systemd-258";
      };
      services.postgresql = mkOption {
        type = types.submodule {
          freeformType = types.attrsOf types.anything;
          options.package = mkOption {
            type = types.anything;
            default = fakePackage "postgresql-17.7";
          };
        };
        default = { };
      };
      # Defaults as in nixos/modules/services/monitoring/prometheus/default.nix and grafana.nix.
      services.prometheus = mkOption {
        type = types.submodule {
          freeformType = types.attrsOf types.anything;
          options.enable = mkOption {
            type = types.bool;
            default = false;
          };
          options.port = mkOption {
            type = types.port;
            default = 9090;
          };
          options.scrapeConfigs = mkOption {
            type = types.listOf types.anything;
            default = [ ];
          };
          options.ruleFiles = mkOption {
            type = types.listOf types.path;
            default = [ ];
          };
        };
        default = { };
      };
      services.grafana = mkOption {
        type = types.submodule {
          freeformType = types.attrsOf types.anything;
          options.enable = mkOption {
            type = types.bool;
            default = false;
          };
          options.provision.enable = mkOption {
            type = types.bool;
            default = false;
          };
          options.provision.dashboards.settings = provisioning "providers";
          options.provision.datasources.settings = provisioning "datasources";
        };
        default = { };
      };
      services.redis.servers = mkOption {
        type = types.attrsOf redisServer;
        default = { };
      };
      services.nginx = mkOption {
        type = freeform;
        default = { };
      };
      networking.firewall.allowedTCPPorts = mkOption {
        type = types.listOf types.port;
        default = [ ];
      };
      networking.fqdnOrHostName = mkOption {
        type = types.str;
        default = "gpu-host-1";
      };
      hardware.graphics.enable = mkOption {
        type = types.bool;
        default = false;
      };
      # What nix/tests/nixos-vm.nix's node sets besides the module.
      virtualisation = mkOption {
        type = freeform;
        default = { };
      };
      environment.systemPackages = mkOption {
        type = types.listOf types.anything;
        default = [ ];
      };
    };
  };

  package = {
    type = "derivation";
    name = "fragrance-ai-0.1.0";
    pname = "fragrance-ai";
    outPath = "/nix/store/00000000000000000000000000000000-fragrance-ai-0.1.0";
    meta.mainProgram = "fragrance-ai";
  };
  cudaPackage = package // {
    name = "fragrance-ai-cuda-0.1.0";
    outPath = "/nix/store/cccccccccccccccccccccccccccccccc-fragrance-ai-cuda-0.1.0";
  };

  evaluated = lib.evalModules {
    modules = [
      standIns
      ../../modules/fragrance-ai
      {
        _module.args.pkgs = pkgs;
        # As the flake's nixosModules.default sets them on x86_64-linux.
        services.fragrance-ai.package = lib.mkDefault package;
        services.fragrance-ai.cudaPackage = lib.mkDefault cudaPackage;
      }
      userConfig
    ];
  };
  config = evaluated.config;

  # As nixos/lib/systemd-lib.nix renders unit sections.
  toOption =
    x:
    if x == true then
      "true"
    else if x == false then
      "false"
    else
      toString x;
  attrsToSection =
    attrs:
    lib.concatStrings (
      lib.concatLists (
        lib.mapAttrsToList (
          name: value: map (x: "${name}=${toOption x}\n") (if lib.isList value then value else [ value ])
        ) attrs
      )
    );
  unitSection =
    def:
    lib.filterAttrs (_: value: value != [ ] && value != null) {
      Description = def.description or null;
      After = def.after or [ ];
      Wants = def.wants or [ ];
      Requires = def.requires or [ ];
      PartOf = def.partOf or [ ];
      StartLimitIntervalSec = def.startLimitIntervalSec or null;
    };
  # NixOS turns `script` into a store script that ExecStart runs.
  execStart = def: lib.optionalAttrs (def ? script) { ExecStart = "/nix/store/00000000000000000000000000000000-unit-script-start"; };
  unitFile =
    def:
    "[Unit]\n"
    + attrsToSection (unitSection def)
    + "\n[Service]\n"
    + lib.concatStrings (lib.mapAttrsToList (n: v: "Environment=\"${n}=${v}\"\n") def.environment)
    + attrsToSection (execStart def // def.serviceConfig);
  # Paths (configs/...) as strings: JSON output would copy them into the store.
  pathsToStrings = value:
    if builtins.isPath value then toString value
    else if builtins.isList value then map pathsToStrings value
    else if builtins.isAttrs value && !(lib.isDerivation value) then lib.mapAttrs (_: pathsToStrings) value
    else value;

  failed = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
  ours = lib.filterAttrs (name: _: lib.hasPrefix "fragrance-ai" name) config.systemd.services;
in
if failed != [ ] then
  { assertions = failed; }
else
  {
    assertions = [ ];
    inherit (config) warnings users hardware;
    cfg = builtins.removeAttrs config.services.fragrance-ai [ "package" ];
    services = lib.mapAttrs (_: def: def // { unitFile = unitFile def; }) ours;
    targets = config.systemd.targets;
    slices = config.systemd.slices;
    postgresql = builtins.removeAttrs config.services.postgresql [ "package" ];
    sockets = config.systemd.sockets;
    # As JSON a derivation is only its path; keep the name and a writer's text.
    systemPackages = map (
      package: if builtins.isAttrs package then { inherit (package) name; text = package.text or null; } else package
    ) config.environment.systemPackages;
    prometheus = pathsToStrings config.services.prometheus;
    grafana = pathsToStrings config.services.grafana;
    redis = config.services.redis.servers;
    nginx = config.services.nginx;
    firewall = config.networking.firewall;
  }

# Evaluates modules/fragrance-ai.nix with nixpkgs' lib.evalModules, without nixpkgs itself:
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
      services.postgresql = mkOption {
        type = freeform;
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

  evaluated = lib.evalModules {
    modules = [
      standIns
      ../../modules/fragrance-ai.nix
      {
        _module.args.pkgs = { };
        services.fragrance-ai.package = lib.mkDefault package;
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
      Requires = def.requires or [ ];
      PartOf = def.partOf or [ ];
      StartLimitIntervalSec = def.startLimitIntervalSec or null;
    };
  unitFile =
    def:
    "[Unit]\n"
    + attrsToSection (unitSection def)
    + "\n[Service]\n"
    + lib.concatStrings (lib.mapAttrsToList (n: v: "Environment=\"${n}=${v}\"\n") def.environment)
    + attrsToSection def.serviceConfig;

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
    postgresql = config.services.postgresql;
    redis = config.services.redis.servers;
    nginx = config.services.nginx;
    firewall = config.networking.firewall;
  }

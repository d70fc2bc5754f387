# A stand-in for nixpkgs, for a Nix (2.8 here) that cannot evaluate the real one: imported as
# a flake imports its nixpkgs input, `import nixpkgs { system; config; }`, it gives the
# package set that flake.nix and nix/*.nix use, and only the names they use. Its builders make
# real derivations from their arguments (never built: the tests evaluate with a dummy store),
# so forcing an output's drvPath forces every input's, as `nix flake check` does, and an input
# built for the wrong Python fails as in nixpkgs (./python.nix).
{
  system,
  config ? { },
}:
let
  lib = import ./lib.nix;

  # stdenv.mkDerivation, reduced: the arguments go into the derivation as JSON, so every
  # derivation or path they mention becomes an input; passthru and meta stay outside it.
  mkDerivation =
    {
      name ? "${attrs.pname}-${attrs.version}",
      passthru ? { },
      meta ? { },
      ...
    }@attrs:
    let
      drv = derivation {
        inherit name system;
        builder = "/bin/sh";
        arguments = builtins.toJSON (
          removeAttrs attrs [
            "passthru"
            "meta"
          ]
        );
      };
    in
    attrs // drv // passthru // { inherit meta; };
  tool = name: mkDerivation { inherit name; };

  # nixos-25.11: python3 is 3.13; the lock's 3.11 is python311.
  python311 = import ./python.nix {
    inherit mkDerivation;
    version = "3.11";
  };
  python313 = import ./python.nix {
    inherit mkDerivation;
    version = "3.13";
  };

  pkgs = {
    inherit lib config;
    stdenv = {
      inherit mkDerivation;
      hostPlatform = { inherit system; };
      cc.cc.lib = tool "gcc-lib";
    };
    # callPackage: the function's arguments that pkgs has, overridden by the given ones; a
    # missing one fails as Nix fails a call without a required argument.
    callPackage =
      fn: args:
      let
        f = if builtins.isFunction fn then fn else import fn;
      in
      f (builtins.intersectAttrs (builtins.functionArgs f) pkgs // args);

    python3 = python313.python;
    python3Packages = python313.packages;
    python311 = python311.python;
    python311Packages = python311.packages;

    fetchurl =
      {
        url,
        hash,
        name ? baseNameOf url,
      }:
      mkDerivation { inherit name url hash; };
    autoPatchelfHook = tool "auto-patchelf-hook";
    # pkgs/by-name/ad/addDriverRunpath: a setup hook whose driverLink is NixOS's driver path.
    addDriverRunpath = tool "add-driver-runpath-hook" // {
      driverLink = "/run/opengl-driver";
    };
    zlib = tool "zlib";
    rdma-core = tool "rdma-core";
    runCommand =
      name: env: text:
      mkDerivation (env // { inherit name text; });
    closureInfo = { rootPaths }: mkDerivation {
      name = "closure-info";
      inherit rootPaths;
    };
    symlinkJoin = { name, paths }: mkDerivation { inherit name paths; };
    writeTextDir =
      path: text:
      mkDerivation {
        name = baseNameOf path;
        inherit path text;
      };
    writeShellApplication =
      {
        name,
        runtimeInputs ? [ ],
        text,
      }:
      mkDerivation { inherit name runtimeInputs text; };
    mkShell =
      {
        packages ? [ ],
        shellHook ? "",
      }:
      mkDerivation {
        name = "nix-shell";
        inherit packages shellHook;
      };
    dockerTools = {
      buildLayeredImage =
        {
          name,
          tag,
          contents ? [ ],
          config ? { },
          created ? "1970-01-01T00:00:01Z",
          fakeRootCommands ? "",
        }@args:
        mkDerivation (args // { name = "${name}.tar.gz"; });
      caCertificates = tool "ca-certificates";
    };
    # The machines' modules given as functions (the flake's nixosModules.default) are called,
    # so what they set, the service's package, is an input; the module system itself and
    # modules/fragrance-ai.nix are tests/nixos_module's to evaluate.
    testers.runNixOSTest =
      { name, nodes, ... }:
      mkDerivation {
        name = "vm-test-run-${name}";
        settings = map (module: module { inherit pkgs lib; }) (
          builtins.filter builtins.isFunction (
            builtins.concatMap (node: node.imports or [ ]) (builtins.attrValues nodes)
          )
        );
      };
    ruff = tool "ruff";
    nixfmt = tool "nixfmt";
    nixfmt-tree = tool "nixfmt-tree";
    actionlint = tool "actionlint";
    postgresql = tool "postgresql";
    redis = tool "redis";
    git = tool "git";
  };
in
pkgs

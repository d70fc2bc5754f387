# The packages of requirements-lock.txt, each built from the very file the lock hashes
# (nix/pins.json: `python nix/lock_drift.py --write-pins` writes it from the lock), with the
# lock's dependency graph. So the Nix build runs the versions CI tests, not nixpkgs' own
# (nixos-25.11 has rq 2.x where we pin rq 3, torch 2.9 where we pin 2.13), and no
# `pythonRelaxDeps` is needed to paper over the gap.
#
# Wheels, not nixpkgs' expressions overridden with a new `src`: an override keeps nixpkgs'
# dependency list, patches and build system for the older release (fastapi 0.165 needs a
# starlette 1.x and opentelemetry-api that nixpkgs' fastapi does not list; pydantic pins its
# pydantic-core exactly; llguidance, tokenizers and pydantic-core are Rust, whose sdists need
# a cargo vendor hash only Nix can compute). A wheel installs as pip installs it; a compiled
# one gets its library paths from autoPatchelfHook.
{
  lib,
  stdenv,
  fetchurl,
  autoPatchelfHook,
  # The interpreter's package set: only its buildPythonPackage is used, none of its libraries.
  # Its Python must be the lock's (pins.python): the compiled wheels are for that version.
  python3Packages,
  pins ? lib.importJSON ./pins.json,
}:
let
  inherit (stdenv.hostPlatform) system;
  # A pure wheel serves every system; a compiled package has one wheel per system, and none
  # where the lock has none (torch's CPU wheel is x86_64 only).
  fileFor = pin: pin.files.${system} or pin.files.any or null;
  available = lib.filterAttrs (_: pin: fileFor pin != null) pins.packages;

  build =
    self: name: pin:
    let
      file = fileFor pin;
      compiled = !(pin.files ? any);
    in
    python3Packages.buildPythonPackage {
      pname = name;
      inherit (pin) version;
      format = "wheel";
      # Named after the file: the installer reads the wheel's tags from its name, and the
      # URL's %2B (torch's "+cpu") is not allowed in a store path.
      src = fetchurl {
        inherit (file) url hash;
        name = file.file;
      };
      # A dependency the lock has no wheel for on this system is left out; the runtime
      # dependency check then names it (torch, for the ML packages off x86_64).
      dependencies = map (dependency: self.${dependency}) (
        builtins.filter (dependency: available ? ${dependency}) pin.dependencies
      );
      nativeBuildInputs = lib.optionals compiled [ autoPatchelfHook ];
      # libstdc++ and libgcc_s: manylinux wheels expect the system's.
      buildInputs = lib.optionals compiled [ stdenv.cc.cc.lib ];
      # The wheels hold no tests; our own suite (nix/package.nix) runs on top of them.
      doCheck = false;
      passthru.lockPin = pin;
      meta = {
        homepage = "https://pypi.org/project/${name}/${pin.version}/";
        platforms = if compiled then builtins.attrNames pin.files else lib.platforms.all;
      };
    };
in
lib.fix (self: lib.mapAttrs (build self) available)

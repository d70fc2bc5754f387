# The dev shell's Python: what ./scripts/bootstrap --dev puts in .venv, from the same files.
# Every package that pyproject.toml (requirements-lock.txt) or requirements-dev.in
# (requirements-dev-lock.txt) asks for, with everything they need, from the pins
# (nix/pins.json with nix/pins-dev.json laid over it), and the models. So the dev tools
# (pytest, mypy, ruff, schemathesis, playwright's driver) are the dev lock's versions, not
# nixpkgs'.
{
  lib,
  python3Packages,
  # nix/lock-packages.nix over pins.json and pins-dev.json
  lockPackages,
  models,
}:
let
  packages =
    builtins.attrValues (lib.filterAttrs (_name: package: package.lockPin.direct) lockPackages)
    ++ models;
in
{
  inherit packages;
  environment = python3Packages.python.withPackages (_: packages);
  inherit (python3Packages.python) pythonVersion;
}

# What an output holds in Python, for the lock-drift check (`nix/lock_drift.py --check`): its
# interpreter, its direct Python dependencies and every Python package of its closure, as
# nixpkgs' requiredPythonModules walks it (the propagated Python modules, as the wrappers and
# python.withPackages put them on sys.path), each as its name and version. Pure: names and
# versions carry no store paths, so the check built from them builds none of these packages
# (the CUDA closure alone is about 3 GB of wheels).
{ lib, python3Packages }:
let
  inherit (python3Packages) python requiredPythonModules hasPythonModule;
  describe = drv: {
    name = drv.pname or drv.name;
    inherit (drv) version;
  };
  # The interpreter is a module of its own set; it is judged as `python`, not as a package.
  modules = drvs: builtins.filter (drv: drv != python) drvs;
  entry = output: direct: locks: {
    inherit output locks;
    python = python.version;
    direct = map (drv: drv.pname or drv.name) direct;
    packages = map describe (modules (requiredPythonModules direct));
  };
in
{
  # An application (buildPythonApplication): its dependencies are the Python modules among
  # its propagatedBuildInputs.
  package =
    output: drv: locks:
    entry output (modules (builtins.filter hasPythonModule drv.propagatedBuildInputs)) locks;
  # A python.withPackages environment, from the list it was made of.
  environment = output: packages: locks: entry output packages locks;
}

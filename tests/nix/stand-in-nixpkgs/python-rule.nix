# nixpkgs' rule that a Python package's dependencies were built for its own interpreter:
# validatePythonMatches in pkgs/development/interpreters/python/mk-python-derivation.nix.
# nixpkgs applies it to `buildInputs ++ pythonPath` and to
# `propagatedBuildInputs ++ dependencies` (not to nativeBuildInputs, build-system or the check
# inputs). A Python module is anything with a non-boolean `pythonModule` (the interpreter it
# was built for; toPythonApplication sets it to false); for one built for another
# interpreter, nixpkgs throws this message, whose first lines are copied here.
{
  # the interpreter of the package being built, and the package's name ("python3.11-…")
  python,
  name,
}:
let
  isPythonModule = drv: drv ? pythonModule && !builtins.isBool drv.pythonModule;
  isMismatchedPython = drv: drv.pythonModule != python;
  throwMismatch =
    attrName: drv:
    throw ''
      Python version mismatch in '${name}':

      The Python derivation '${name}' depends on a Python derivation
      named '${drv.name}', but the two derivations use different versions
      of Python:

          '${name}' uses ${python}
          '${drv.name}' uses ${toString drv.pythonModule}

      (in the ${attrName} of '${name}')
    '';
in
attrName:
map (
  drv: if isPythonModule drv && isMismatchedPython drv then throwMismatch attrName drv else drv
)

# The application, built with nixpkgs' Python packages (callPackage'd by flake.nix).
# `withML = false` gives the variant the api image uses: no torch, transformers or DEAP in
# its closure (checks.<system>.api-closure-has-no-torch holds it to that).
{
  lib,
  python3Packages,
  src,
  withML ? true,
  # Model files packaged as data (nix/models.nix), for the workers' development profile.
  models ? [ ],
}:
let
  project = (builtins.fromTOML (builtins.readFile ../pyproject.toml)).project;
  deps = import ./python-deps.nix python3Packages;
in
python3Packages.buildPythonApplication {
  pname = if withML then "fragrance-ai" else "fragrance-ai-api";
  inherit (project) version;
  pyproject = true;
  inherit src;

  build-system = [ python3Packages.setuptools ];
  dependencies = deps.runtime ++ lib.optionals withML (deps.ml ++ models);

  # pyproject.toml pins rq 3 (what the lock resolves); nixpkgs may still ship rq 2, whose
  # SimpleWorker, Worker.all and Retry are the API we use. lock-drift reports the gap.
  pythonRelaxDeps = [ "rq" ];

  nativeCheckInputs = [ python3Packages.pytestCheckHook ] ++ deps.test;
  # Unit tests only: integration and e2e need the real PostgreSQL and Redis (they would
  # skip without them anyway; deselecting them keeps the build log honest).
  disabledTestMarks = [
    "integration"
    "e2e"
  ];
  # tests/nix checks the repository (flake, lock, workflow), not the installed package.
  disabledTestPaths = [ "tests/nix" ];
  preCheck = ''
    # hypothesis and the CLI tests want a writable home; the sandbox's is not.
    export HOME="$(mktemp -d)"
  '';
  pythonImportsCheck = [
    "fragrance_ai"
    "fragrance_ai.api.app"
    "fragrance_ai.cli"
  ];

  passthru = { inherit withML; };

  meta = {
    inherit (project) description;
    mainProgram = "fragrance-ai";
    # Proprietary (pyproject.toml). No `license` here: lib.licenses.unfree would make
    # nixpkgs refuse to evaluate the package without allowUnfree.
    platforms = lib.platforms.linux;
  };
}

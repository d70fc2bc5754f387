# The application on the lock's Python packages (nix/lock-packages.nix), callPackage'd by
# flake.nix.
# `withML = false` gives the variant the api image uses: no torch, transformers or DEAP in
# its closure (checks.<system>.api-closure-has-no-torch holds it to that).
{
  lib,
  python3Packages,
  src,
  withML ? true,
  # Model files packaged as data (nix/models.nix): the development profile's LLM and the
  # evocation paraphrase matcher's embedding model.
  models ? [ ],
  # The locks' packages (nix/lock-packages.nix): requirements-lock.txt's, or those with the
  # CUDA lock's torch and CUDA wheels laid over them (the CUDA variant).
  lockPackages,
}:
let
  project = (builtins.fromTOML (builtins.readFile ../pyproject.toml)).project;
  deps = import ./python-deps.nix (python3Packages // lockPackages);
in
python3Packages.buildPythonApplication {
  pname = if withML then "fragrance-ai" else "fragrance-ai-api";
  inherit (project) version;
  pyproject = true;
  inherit src;

  build-system = [ python3Packages.setuptools ];
  dependencies = deps.runtime ++ lib.optionals withML (deps.ml ++ models);

  # On the locks every requirement of pyproject.toml holds as written: nothing is relaxed.

  nativeCheckInputs = [ python3Packages.pytestCheckHook ] ++ deps.test;
  # Unit tests only: integration and e2e need the real PostgreSQL and Redis (they would
  # skip without them anyway; deselecting them keeps the build log honest).
  disabledTestMarks = [
    "integration"
    "e2e"
  ];
  # tests/nix checks the repository (flake, lock, workflow) and tests/tools the development
  # tools outside the wheel (not in src): neither is the installed package.
  disabledTestPaths = [
    "tests/nix"
    "tests/tools"
  ];
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
    # pyproject.toml's SPDX expression; the catalogue data's terms are in DATA-LICENSE.md.
    license = lib.licenses.asl20;
    platforms = lib.platforms.linux;
  };
}

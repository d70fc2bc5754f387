# Checks that need a build (flake.nix adds the NixOS VM test on x86_64-linux). What can be
# checked without nixpkgs runs in the ordinary test suite instead (tests/nix).
{
  lib,
  runCommand,
  closureInfo,
  python3,
  # the package set the application is built from (the lock's packages over nixpkgs')
  pythonPackages,
  contract,
  # the full application and the variant without ML libraries
  fragrance-ai,
  fragrance-ai-api,
}:
let
  packageFor = spec: if spec.ml then fragrance-ai else fragrance-ai-api;

  # The version Nix builds of <attr>, or null when it has none (an alias that throws, a null
  # placeholder or no attribute at all).
  nixVersion =
    attr:
    let
      found = builtins.tryEval (
        let
          value = pythonPackages.${attr} or null;
        in
        if builtins.isAttrs value && value ? version then value.version else null
      );
    in
    if found.success then found.value else null;

  lockRows = map (row: row // { nix = nixVersion row.attr; }) (
    import ./lock-versions.nix { lockText = builtins.readFile ../requirements-lock.txt; }
  );
in
{
  # The builds run the unit tests (pytestCheckHook).
  package = fragrance-ai;
  package-api = fragrance-ai-api;

  # The api image is built from fragrance-ai-api; torch and friends must not reach it.
  api-closure-has-no-torch =
    runCommand "fragrance-ai-api-closure-has-no-torch"
      { closure = closureInfo { rootPaths = [ fragrance-ai-api ]; }; }
      ''
        if grep -E -- '-python3\.[0-9]+-(torch|transformers|deap)-[0-9]' "$closure/store-paths"; then
          echo "fragrance-ai-api's closure holds the ML libraries above" >&2
          exit 1
        fi
        touch "$out"
      '';

  # Every command an image runs (entrypoint + Cmd, and its health check) parses with the
  # package that image is built from.
  image-contract = runCommand "fragrance-ai-image-contract" { } (
    lib.concatMapStrings (
      name:
      let
        spec = contract.images.${name};
        program = lib.getExe' (packageFor spec) contract.program;
      in
      ''
        echo "${name}: ${toString spec.command}; healthcheck: ${toString spec.healthcheck}"
        ${lib.escapeShellArgs ([ program ] ++ spec.command ++ [ "--help" ])} >/dev/null
        ${lib.escapeShellArgs ([ program ] ++ spec.healthcheck ++ [ "--help" ])} >/dev/null
      ''
    ) (builtins.attrNames contract.images)
    + ''
      touch "$out"
    ''
  );

  # requirements-lock.txt against what Nix builds: a direct dependency whose major.minor
  # differs, or which Nix lacks, fails; transitive drift is reported. The report is the
  # output (`nix build .#checks.<system>.lock-drift`).
  lock-drift =
    runCommand "fragrance-ai-lock-drift"
      {
        nativeBuildInputs = [ python3 ];
        rows = builtins.toJSON lockRows;
        passAsFile = [ "rows" ];
      }
      ''
        if python3 ${./lock_drift.py} "$rowsPath" ${../requirements-lock.txt} >report.txt; then
          cat report.txt
          cp report.txt "$out"
        else
          cat report.txt
          exit 1
        fi
      '';
}

# Checks that need a build (flake.nix adds the NixOS VM test on x86_64-linux). What can be
# checked without nixpkgs runs in the ordinary test suite instead (tests/nix).
{
  lib,
  runCommand,
  closureInfo,
  python3,
  python3Packages,
  contract,
  # the full application and the variant without ML libraries
  fragrance-ai,
  fragrance-ai-api,
}:
let
  packageFor = spec: if spec.ml then fragrance-ai else fragrance-ai-api;

  # The version of python3Packages.<attr>, or null when nixpkgs has none (an alias that
  # throws, a null placeholder or no attribute at all).
  nixpkgsVersion =
    attr:
    let
      found = builtins.tryEval (
        let
          value = python3Packages.${attr} or null;
        in
        if builtins.isAttrs value && value ? version then value.version else null
      );
    in
    if found.success then found.value else null;

  lockRows = map (row: row // { nixpkgs = nixpkgsVersion row.attr; }) (
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

  # requirements-lock.txt against the pinned nixpkgs: drift is reported, a package nixpkgs
  # lacks fails. The report is the output (`nix build .#checks.<system>.lock-drift`).
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

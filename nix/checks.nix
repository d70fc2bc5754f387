# Checks that need a build (flake.nix adds the NixOS VM test on x86_64-linux). What can be
# checked without nixpkgs runs in the ordinary test suite instead (tests/nix).
{
  lib,
  runCommand,
  closureInfo,
  python3,
  contract,
  # the full application (null where only the api builds: aarch64-linux) and the variant
  # without ML libraries
  fragrance-ai,
  fragrance-ai-api,
  # What each output holds in Python (nix/holds.nix), for the lock-drift check.
  held,
}:
let
  packageFor = spec: if spec.ml then fragrance-ai else fragrance-ai-api;
  # The images this system builds: all on x86_64, the api's alone on aarch64.
  images = builtins.filter (name: packageFor contract.images.${name} != null) (
    builtins.attrNames contract.images
  );

  # The locks an output may name, by the name it gives them.
  locks = {
    "requirements-lock.txt" = ../requirements-lock.txt;
    "requirements-models.txt" = ../requirements-models.txt;
    "requirements-dev-lock.txt" = ../requirements-dev-lock.txt;
    "requirements-cuda-lock.txt" = ../requirements-cuda-lock.txt;
  };
in
lib.optionalAttrs (fragrance-ai != null) {
  # The builds run the unit tests (pytestCheckHook).
  package = fragrance-ai;
}
// {
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
    ) images
    + ''
      touch "$out"
    ''
  );

  # Each output's Python packages against the locks it is built from (nix/lock_drift.py
  # --check): the CPU package, the api package, the CUDA package and the dev shell. A direct
  # dependency whose major.minor differs, that the output lacks or no lock holds, two versions
  # of one package, or another interpreter than the locks' fails; transitive differences are
  # reported. The report is the output (`nix build .#checks.<system>.lock-drift`). Built from
  # names and versions alone (nix/holds.nix), so it builds none of the packages it judges.
  lock-drift =
    runCommand "fragrance-ai-lock-drift"
      {
        nativeBuildInputs = [ python3 ];
        # Names and versions only; discarding the context keeps it so, whatever a version
        # string were made of.
        held = builtins.unsafeDiscardStringContext (builtins.toJSON held);
        passAsFile = [ "held" ];
      }
      (
        "mkdir locks\n"
        + lib.concatMapStrings (
          name:
          lib.optionalString (builtins.any (output: builtins.elem name output.locks) held) ''
            cp ${locks.${name}} locks/${name}
          ''
        ) (builtins.attrNames locks)
        + ''
          if python3 ${./lock_drift.py} --check "$heldPath" --root locks >report.txt; then
            cat report.txt
            cp report.txt "$out"
          else
            cat report.txt
            exit 1
          fi
        ''
      );
}

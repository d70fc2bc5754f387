{
  description = "Fragrance AI: creative briefs into safe, costed fragrance formulas";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      # x86_64-linux builds everything. aarch64-linux builds only what needs no torch: the api
      # package (fragrance-ai-api), its image (api) and their checks. The lock hashes torch's
      # CPU wheel for x86_64 only (pip-compile resolved it from PyTorch's CPU index), and
      # PyPI's aarch64 wheel of torch 2.13.0 is another build with CUDA wheels of its own, so
      # the workers, the full package, the dev shell and the CUDA variant are x86_64-only.
      # Every compiled wheel of the api's closure has an aarch64 file among the lock's hashes
      # (nix/pins.json; tests/nix/test_lock_drift.py checks it).
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      fullSystems = [ "x86_64-linux" ];
      # The CUDA variant: PyPI's torch wheel and its CUDA wheels, hashed for x86_64 only.
      cudaSystems = [ "x86_64-linux" ];
      forAllSystems = lib.genAttrs systems;

      # The image contract (entrypoint, health checks, port, user), shared with the Python
      # contract test in tests/nix.
      contract = builtins.fromJSON (builtins.readFile ./nix/contract.json);
      revision = self.rev or self.dirtyRev or "dirty";

      # Only what the build reads (README.md is the package's long description), so editing
      # the flake, nix/ or CI rebuilds nothing.
      src = lib.fileset.toSource {
        root = ./.;
        fileset = lib.fileset.unions [
          ./pyproject.toml
          ./README.md
          ./fragrance_ai
          ./tests
        ];
      };

      perSystem =
        system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          full = builtins.elem system fullSystems;

          # The locks' packages, from the files they hash, on the locks' Python (pins.python,
          # "3.11": the compiled wheels are built for it). One set per use, each the CPU lock's
          # with another pins file's packages laid over it: the CUDA lock's torch and CUDA
          # wheels (requirements-cuda-lock.txt), the dev lock's tools
          # (requirements-dev-lock.txt). No output uses nixpkgs' versions of the locked
          # packages, and none needs a second nixpkgs with cudaSupport.
          pins = lib.importJSON ./nix/pins.json;
          pythonOf = pkgs: pkgs."python${lib.replaceStrings [ "." ] [ "" ] pins.python}Packages";
          python3Packages = pythonOf pkgs;
          lockPackagesOf =
            packages:
            pkgs.callPackage ./nix/lock-packages.nix {
              inherit python3Packages;
              pins = pins // {
                inherit packages;
              };
            };
          over = file: pins.packages // (lib.importJSON file).packages;
          lockPackages = lockPackagesOf pins.packages;
          cudaLockPackages = lockPackagesOf (over ./nix/pins-cuda.json);
          devLockPackages = lockPackagesOf (over ./nix/pins-dev.json);

          # Every Python package of the application comes from the one interpreter's set
          # (nixpkgs' builder throws "Python version mismatch" otherwise): the models too,
          # which callPackage alone would build on pkgs.python3Packages (3.13 in 25.11).
          models = pkgs.callPackage ./nix/models.nix { inherit python3Packages; };
          application =
            lockPackages: withML:
            pkgs.callPackage ./nix/package.nix {
              inherit
                src
                withML
                lockPackages
                python3Packages
                models
                ;
            };
          fragrance-ai = application lockPackages true;
          fragrance-ai-api = application lockPackages false;
          # The application on the CUDA lock: torch 2.13.0's CUDA wheel and its CUDA wheels,
          # patched against the host's driver (nix/lock-packages.nix), every other package the
          # CPU package's own. For GPU workers on NixOS hosts
          # (services.fragrance-ai.workers.<name>.package) and the CUDA images.
          fragrance-ai-cuda = application cudaLockPackages true;

          # What `nix develop` holds: everything ./scripts/bootstrap --dev puts in .venv (both
          # locks' packages and the models), from the same pins.
          devPython = import ./nix/dev-python.nix {
            inherit lib models python3Packages;
            lockPackages = devLockPackages;
          };

          mkImage =
            package: image: variant:
            pkgs.callPackage ./nix/image.nix {
              inherit
                package
                contract
                image
                revision
                variant
                ;
            };
          cudaOutputs = {
            inherit fragrance-ai-cuda;
            worker-llm-cuda = mkImage fragrance-ai-cuda "worker-llm" "cuda";
            worker-rl-cuda = mkImage fragrance-ai-cuda "worker-rl" "cuda";
          };

          # What each output really holds, for the lock-drift check: its interpreter, its
          # direct Python dependencies and every Python package of its closure (nixpkgs'
          # requiredPythonModules), judged against the locks it is built from.
          holds = import ./nix/holds.nix { inherit lib python3Packages; };
          appLocks = [
            "requirements-lock.txt"
            "requirements-models.txt"
          ];
          held = [
            (holds.package "packages.${system}.fragrance-ai-api" fragrance-ai-api [
              "requirements-lock.txt"
            ])
          ]
          ++ lib.optionals full [
            (holds.package "packages.${system}.fragrance-ai" fragrance-ai appLocks)
            (holds.environment "devShells.${system}.default" devPython.packages (
              appLocks ++ [ "requirements-dev-lock.txt" ]
            ))
          ]
          ++ lib.optionals (builtins.elem system cudaSystems) [
            (holds.package "packages.${system}.fragrance-ai-cuda" fragrance-ai-cuda (
              appLocks ++ [ "requirements-cuda-lock.txt" ]
            ))
          ];
        in
        {
          packages = {
            inherit fragrance-ai-api;
            api = mkImage fragrance-ai-api "api" "cpu";
          }
          // lib.optionalAttrs full {
            default = fragrance-ai;
            inherit fragrance-ai;
            worker-llm = mkImage fragrance-ai "worker-llm" "cpu";
            worker-rl = mkImage fragrance-ai "worker-rl" "cpu";
          }
          // lib.optionalAttrs (builtins.elem system cudaSystems) cudaOutputs;

          devShells = lib.optionalAttrs full {
            default = pkgs.callPackage ./nix/devshell.nix {
              python = devPython.environment;
              inherit (devPython) pythonVersion;
            };
          };

          # import, not callPackage: callPackage would add `override` to this attribute set,
          # which `nix flake check` then rejects as a check that is not a derivation.
          checks =
            import ./nix/checks.nix {
              inherit (pkgs)
                lib
                runCommand
                closureInfo
                python3
                ;
              inherit contract fragrance-ai-api held;
              fragrance-ai = if full then fragrance-ai else null;
            }
            # NixOS VM tests need KVM.
            // lib.optionalAttrs (system == "x86_64-linux") {
              nixos-vm = import ./nix/tests/nixos-vm.nix { inherit pkgs self; };
            };

          # nixfmt (RFC 166 style) over the tree: `nix fmt`.
          formatter = pkgs.nixfmt-tree;
        };

      outputsBySystem = forAllSystems perSystem;
      collect = name: lib.mapAttrs (_system: outputs: outputs.${name}) outputsBySystem;
    in
    {
      packages = collect "packages";
      # Only where the full set builds (x86_64-linux): aarch64 gets no empty entry.
      devShells = lib.filterAttrs (_system: shells: shells != { }) (collect "devShells");
      checks = collect "checks";
      formatter = collect "formatter";

      nixosModules.default =
        { pkgs, lib, ... }:
        {
          imports = [ ./modules/fragrance-ai ];
          # aarch64-linux has no default (no torch, so no workers): there the host sets
          # package to fragrance-ai-api and runs the API alone, or this says so.
          services.fragrance-ai.package = lib.mkDefault (
            self.packages.${pkgs.stdenv.hostPlatform.system}.default or (throw ''
              fragrance-ai: this flake builds only fragrance-ai-api on ${pkgs.stdenv.hostPlatform.system}
              (the lock has no torch wheel for it). Set services.fragrance-ai.package =
              fragrance-ai.packages.${pkgs.stdenv.hostPlatform.system}.fragrance-ai-api and run
              no workers, or use x86_64-linux.
            '')
          );
          # What GPU worker groups run; null where the flake builds no CUDA variant (aarch64),
          # and the module's assertion then says what to set.
          services.fragrance-ai.cudaPackage = lib.mkDefault (
            self.packages.${pkgs.stdenv.hostPlatform.system}.fragrance-ai-cuda or null
          );
        };
    };
}

{
  description = "Fragrance AI: creative briefs into safe, costed fragrance formulas";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      # The CUDA images: x86_64 only, where the CUDA binary caches build nixpkgs' CUDA torch.
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
          # A second nixpkgs with CUDA: its torch (and everything built on it) uses CUDA.
          # Not `torchWithCuda`, which leaves the rest of the package set on CPU torch.
          cudaPkgs = import nixpkgs {
            inherit system;
            config = {
              allowUnfree = true;
              cudaSupport = true;
            };
          };

          # requirements-lock.txt's packages, from the files it hashes, on the lock's Python
          # (pins.python, "3.11": the compiled wheels are built for it).
          pins = lib.importJSON ./nix/pins.json;
          pythonOf = pkgs: pkgs."python${lib.replaceStrings [ "." ] [ "" ] pins.python}Packages";
          lockPackages = pkgs.callPackage ./nix/lock-packages.nix {
            inherit pins;
            python3Packages = pythonOf pkgs;
          };

          # Every Python package of the application comes from the one interpreter's set
          # (nixpkgs' builder throws "Python version mismatch" otherwise): the models too,
          # which callPackage alone would build on pkgs.python3Packages (3.13 in 25.11).
          application =
            pkgs: lockPackages: withML:
            let
              python3Packages = pythonOf pkgs;
            in
            pkgs.callPackage ./nix/package.nix {
              inherit
                src
                withML
                lockPackages
                python3Packages
                ;
              models = [ (pkgs.callPackage ./nix/models.nix { inherit python3Packages; }) ];
            };
          fragrance-ai = application pkgs lockPackages true;
          fragrance-ai-api = application pkgs lockPackages false;

          mkImage =
            pkgs: package: image: variant:
            pkgs.callPackage ./nix/image.nix {
              inherit
                package
                contract
                image
                revision
                variant
                ;
            };
          # The application on CUDA torch, for GPU workers on NixOS hosts
          # (services.fragrance-ai.workers.<name>.package) and for the CUDA images. It runs
          # nixpkgs' versions (null: no lock packages): the lock pins torch's CPU wheel, and
          # a CUDA lock does not exist yet (nix/README.md says what it would take).
          fragrance-ai-cuda = application cudaPkgs null true;
          cudaOutputs = {
            inherit fragrance-ai-cuda;
            worker-llm-cuda = mkImage cudaPkgs fragrance-ai-cuda "worker-llm" "cuda";
            worker-rl-cuda = mkImage cudaPkgs fragrance-ai-cuda "worker-rl" "cuda";
          };
        in
        {
          packages = {
            default = fragrance-ai;
            inherit fragrance-ai fragrance-ai-api;
            api = mkImage pkgs fragrance-ai-api "api" "cpu";
            worker-llm = mkImage pkgs fragrance-ai "worker-llm" "cpu";
            worker-rl = mkImage pkgs fragrance-ai "worker-rl" "cpu";
          }
          // lib.optionalAttrs (builtins.elem system cudaSystems) cudaOutputs;

          devShells.default = pkgs.callPackage ./nix/devshell.nix { };

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
              # What the application is built from: the lock's packages over nixpkgs'.
              pythonPackages = pythonOf pkgs // lockPackages;
              inherit contract fragrance-ai fragrance-ai-api;
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
      devShells = collect "devShells";
      checks = collect "checks";
      formatter = collect "formatter";

      nixosModules.default =
        { pkgs, lib, ... }:
        {
          imports = [ ./modules/fragrance-ai ];
          services.fragrance-ai.package =
            lib.mkDefault
              self.packages.${pkgs.stdenv.hostPlatform.system}.default;
          # What GPU worker groups run; null where the flake builds no CUDA variant (aarch64),
          # and the module's assertion then says what to set.
          services.fragrance-ai.cudaPackage = lib.mkDefault (
            self.packages.${pkgs.stdenv.hostPlatform.system}.fragrance-ai-cuda or null
          );
        };
    };
}

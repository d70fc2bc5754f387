# The flake input `nixpkgs` as flake.nix's outputs function receives it: its lib, its
# legacyPackages per system, and an outPath that `import nixpkgs { … }` imports (default.nix).
let
  lib = import ./lib.nix;
in
{
  outPath = ./.;
  inherit lib;
  legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (
    system: import ./. { inherit system; }
  );
}

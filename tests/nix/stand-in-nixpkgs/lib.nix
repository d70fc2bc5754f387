# The nixpkgs `lib` functions that flake.nix and nix/*.nix call, each doing what nixpkgs'
# does with the arguments we give it; any other name is missing, as a misspelt one would be.
let
  genAttrs =
    names: f:
    builtins.listToAttrs (
      map (name: {
        inherit name;
        value = f name;
      }) names
    );
in
{
  inherit genAttrs;
  inherit (builtins) mapAttrs replaceStrings;
  filterAttrs =
    predicate: attrs:
    removeAttrs attrs (builtins.filter (name: !predicate name attrs.${name}) (builtins.attrNames attrs));
  fix =
    f:
    let
      x = f x;
    in
    x;
  importJSON = path: builtins.fromJSON (builtins.readFile path);
  optionals = condition: list: if condition then list else [ ];
  optionalAttrs = condition: attrs: if condition then attrs else { };
  optionalString = condition: string: if condition then string else "";
  concatMapStrings = f: list: builtins.concatStringsSep "" (map f list);
  escapeShellArgs = args: toString (map (arg: "'${arg}'") args);
  getExe' = package: program: "${package}/bin/${program}";
  mkDefault = value: value;
  # The source's contents are not read here; unions, like nixpkgs', insists the paths exist.
  fileset = {
    unions =
      paths:
      assert builtins.all builtins.pathExists paths;
      paths;
    toSource = { root, fileset }: "/nix/store/00000000000000000000000000000000-source";
  };
  licenses.asl20 = "Apache-2.0";
  platforms = {
    linux = [
      "x86_64-linux"
      "aarch64-linux"
    ];
    all = [
      "x86_64-linux"
      "aarch64-linux"
    ];
  };
}

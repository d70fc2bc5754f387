# The pinned packages of a pip-compile lock, as {name, attr, locked}. Pure builtins, no
# nixpkgs: tests/nix evaluates it here on requirements-lock.txt. Every locked package is its
# own attribute of nix/lock-packages.nix, so `attr` is the normalised name.
{ lockText }:
let
  letters = alphabet: builtins.genList (i: builtins.substring i 1 alphabet) 26;
  upper = letters "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  lower = letters "abcdefghijklmnopqrstuvwxyz";
  # PEP 503 normalisation, which is also how nixpkgs names Python packages.
  normalise = name: builtins.replaceStrings (
      [
        "_"
        "."
      ]
      ++ upper
    ) ([
      "-"
      "-"
    ]
    ++ lower
    ) name;
  lines = builtins.filter builtins.isString (builtins.split "\n" lockText);
  pins = builtins.filter (match: match != null) (
    map (builtins.match "([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;]+).*") lines
  );
in
map (
  pin:
  let
    name = normalise (builtins.elemAt pin 0);
  in
  {
    inherit name;
    attr = name;
    locked = builtins.elemAt pin 1;
  }
) pins

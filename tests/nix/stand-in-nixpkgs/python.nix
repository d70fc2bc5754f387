# One interpreter and its package set, as nixpkgs' python<XY> and python<XY>Packages: every
# package in the set is a Python module built for this interpreter (`pythonModule`), and
# buildPythonPackage / buildPythonApplication enforce nixpkgs' same-interpreter rule
# (./python-rule.nix) on the inputs nixpkgs checks.
{
  mkDerivation,
  # "3.11", "3.13"
  version,
}:
let
  python =
    mkDerivation {
      pname = "python3";
      inherit version;
    }
    // {
      pythonVersion = version;
      pkgs = packages;
      withPackages =
        f:
        mkDerivation {
          name = "python3-${version}-env";
          paths = f packages;
        };
    };

  # mk-python-derivation.nix: a library is named "python3.11-<pname>-<version>" and is a
  # Python module of this interpreter; an application has no prefix and is no module.
  mkPythonDerivation =
    { namePrefix, toPythonModule }:
    {
      pname,
      version,
      nativeBuildInputs ? [ ],
      buildInputs ? [ ],
      propagatedBuildInputs ? [ ],
      pythonPath ? [ ],
      dependencies ? [ ],
      build-system ? [ ],
      nativeCheckInputs ? [ ],
      ...
    }@attrs:
    let
      name = "${namePrefix}${pname}-${version}";
      validate = import ./python-rule.nix { inherit python name; };
    in
    toPythonModule (mkDerivation (
      removeAttrs attrs [
        "dependencies"
        "build-system"
        "nativeCheckInputs"
        "pyproject"
        "format"
      ]
      // {
        inherit name;
        nativeBuildInputs = [ python ] ++ nativeBuildInputs ++ build-system;
        buildInputs = validate "buildInputs" (buildInputs ++ pythonPath);
        propagatedBuildInputs = validate "propagatedBuildInputs" (
          propagatedBuildInputs ++ dependencies ++ [ python ]
        );
        nativeInstallCheckInputs = nativeCheckInputs;
      }
    ));

  buildPythonPackage = mkPythonDerivation {
    namePrefix = "python${version}-";
    toPythonModule = drv: drv // { pythonModule = python; };
  };
  buildPythonApplication = mkPythonDerivation {
    namePrefix = "";
    toPythonModule = drv: drv;
  };

  # Hooks (pytestCheckHook) are setup hooks, not Python modules.
  package =
    name:
    if builtins.match ".*Hook" name != null then
      mkDerivation { inherit name; }
    else
      buildPythonPackage {
        pname = name;
        version = "0";
      };

  packages =
    builtins.listToAttrs (
      map (name: {
        inherit name;
        value = package name;
      }) (import ./python-packages.nix)
    )
    // {
      inherit python buildPythonPackage buildPythonApplication;
    };
in
{
  inherit python packages;
}

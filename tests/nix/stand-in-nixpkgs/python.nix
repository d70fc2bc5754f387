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

  # python-packages-base.nix: a module built for this interpreter, and the modules a list
  # of derivations brings, the interpreter first, each once (nixpkgs' lib.unique keeps the
  # first of equal values; derivations are equal when their outPaths are).
  hasPythonModule = drv: drv ? pythonModule && drv.pythonModule == python;
  unique = builtins.foldl' (
    kept: drv: if builtins.elem drv kept then kept else kept ++ [ drv ]
  ) [ ];
  requiredPythonModules =
    drvs:
    let
      modules = builtins.filter hasPythonModule drvs;
    in
    unique (
      [ python ]
      ++ modules
      ++ builtins.concatLists (builtins.catAttrs "requiredPythonModules" modules)
    );
  # toPythonModule: the interpreter it is for, and the modules it propagates.
  toPythonModule =
    drv:
    drv
    // {
      pythonModule = python;
      requiredPythonModules = requiredPythonModules (drv.propagatedBuildInputs or [ ]);
    };

  buildPythonPackage = mkPythonDerivation {
    namePrefix = "python${version}-";
    inherit toPythonModule;
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
      inherit
        buildPythonPackage
        buildPythonApplication
        hasPythonModule
        requiredPythonModules
        ;
      # As nixpkgs' set has it: the interpreter, itself a module of its set.
      python = toPythonModule python;
    };
in
{
  inherit python packages;
}

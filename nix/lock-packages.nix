# The packages of the locks, each built from the very file its lock hashes (nix/pins*.json:
# `python nix/lock_drift.py --write-pins` writes them from the locks), with the locks'
# dependency graph. So the Nix build runs the versions CI tests, not nixpkgs' own
# (nixos-25.11 has rq 2.x where we pin rq 3, torch 2.9 where we pin 2.13), and no
# `pythonRelaxDeps` is needed to paper over the gap. flake.nix calls this once per set:
# requirements-lock.txt's packages (the CPU package and images), those with
# requirements-cuda-lock.txt's laid over them (the CUDA variant), and those with the dev
# lock's added (the dev shell).
#
# Wheels, not nixpkgs' expressions overridden with a new `src`: an override keeps nixpkgs'
# dependency list, patches and build system for the older release (fastapi 0.165 needs a
# starlette 1.x and opentelemetry-api that nixpkgs' fastapi does not list; pydantic pins its
# pydantic-core exactly; llguidance, tokenizers and pydantic-core are Rust, whose sdists need
# a cargo vendor hash only Nix can compute). A wheel installs as pip installs it; a compiled
# one gets its library paths from autoPatchelfHook.
{
  lib,
  stdenv,
  fetchurl,
  autoPatchelfHook,
  # /run/opengl-driver: where NixOS puts the GPU driver's libraries (libcuda.so.1)
  addDriverRunpath,
  # what the CUDA wheels link from the host, as nixpkgs' own CUDA packages get it
  zlib,
  rdma-core,
  # The interpreter's package set: only its buildPythonPackage is used, none of its libraries.
  # Its Python must be the locks' (pins.python): the compiled wheels are for that version.
  python3Packages,
  # { python; packages; }: nix/pins.json, or its packages with another pins file's laid over
  # them (flake.nix).
  pins ? lib.importJSON ./pins.json,
}:
let
  inherit (stdenv.hostPlatform) system;
  # A pure wheel serves every system; a compiled package has one wheel per system, and none
  # where the lock has none (torch is x86_64 only).
  fileFor = pin: pin.files.${system} or pin.files.any or null;
  compiled = name: !(pins.packages.${name}.files ? any);
  # A package builds here when the lock has a file for it here and everything it needs
  # builds here too: off x86_64 that leaves out torch and whatever requires it.
  buildable = lib.mapAttrs (
    _: pin: fileFor pin != null && builtins.all (name: buildable.${name} or false) pin.dependencies
  ) pins.packages;
  available = lib.filterAttrs (name: _: buildable.${name}) pins.packages;

  # Every package a package needs, directly or not.
  closure =
    name:
    map (item: item.key) (
      builtins.genericClosure {
        startSet = map (key: { inherit key; }) pins.packages.${name}.dependencies;
        operator = item: map (key: { inherit key; }) pins.packages.${item.key}.dependencies;
      }
    );

  # The CUDA wheels (requirements-cuda-lock.txt: torch's CUDA build and the nvidia-*, triton
  # and cuda-bindings wheels it requires), patched as nixpkgs' torch-bin patches its wheel:
  # the driver's libcuda.so.1 is never in the store, so it may be missing here and is found
  # at run time in /run/opengl-driver/lib (on other distributions through LD_LIBRARY_PATH, or
  # the NVIDIA container toolkit in a container).
  cuda = {
    ignoreMissing = {
      # NVSHMEM's multi-node bootstraps and transports (MPI, OpenSHMEM, PMIx, libfabric, UCX),
      # plugins it opens only when told to; one GPU per worker never does. Read with readelf
      # from nvidia_nvshmem_cu13-3.4.5's nvidia/nvshmem/lib.
      nvidia-nvshmem-cu13 = [
        "libmpi.so.40"
        "liboshmem.so.40"
        "libpmix.so.2"
        "libfabric.so.1"
        "libucp.so.0"
        "libucs.so.0"
      ];
    };
    # libz.so.1: cuDNN's libcudnn_graph and libcudnn_cnn (readelf), Triton (nixpkgs' triton-bin
    # gives it zlib); libibverbs, librdmacm, libmlx5: cuFile's libcufile_rdma and NVSHMEM's
    # InfiniBand transports (readelf; nixpkgs' libcufile gives it rdma-core).
    libraries = [
      zlib
      rdma-core
    ];
  };

  build =
    self: name: pin:
    let
      file = fileFor pin;
      isCompiled = compiled name;
      isCuda = pin.cuda or false && isCompiled;
      # The compiled packages it needs: autoPatchelf looks for libraries only in each
      # input's lib/, and a wheel's are under site-packages (nvidia/cu13/lib, torch/lib).
      linked = lib.optionals isCompiled (
        map (dependency: self.${dependency}) (builtins.filter compiled (closure name))
      );
      searchLinked = lib.concatMapStrings (dependency: ''
        addAutoPatchelfSearchPath ${dependency}
      '') linked;
    in
    python3Packages.buildPythonPackage (
      {
        pname = name;
        inherit (pin) version;
        format = "wheel";
        # Named after the file: the installer reads the wheel's tags from its name, and the
        # URL's %2B (torch's "+cpu") is not allowed in a store path.
        src = fetchurl {
          inherit (file) url hash;
          name = file.file;
        };
        dependencies = map (dependency: self.${dependency}) pin.dependencies;
        nativeBuildInputs = lib.optionals isCompiled [ autoPatchelfHook ];
        # libstdc++ and libgcc_s: manylinux wheels expect the system's.
        buildInputs = lib.optionals isCompiled (
          [ stdenv.cc.cc.lib ] ++ lib.optionals isCuda cuda.libraries
        );
        preFixup = searchLinked;
        # The wheels hold no tests; our own suite (nix/package.nix) runs on top of them.
        doCheck = false;
        passthru.lockPin = pin;
        meta = {
          homepage = "https://pypi.org/project/${name}/${pin.version}/";
          platforms = if isCompiled then builtins.attrNames pin.files else lib.platforms.all;
        };
      }
      // lib.optionalAttrs isCuda {
        autoPatchelfIgnoreMissingDeps = [ "libcuda.so.1" ] ++ cuda.ignoreMissing.${name} or [ ];
        # autoPatchelf sets each library's RUNPATH to the directories it found NEEDED
        # libraries in, plus these: the driver's directory (what torch-bin's addDriverRunpath
        # adds), the library's own (cuDNN and NVRTC open their parts from beside them) and, in
        # preFixup below, the library directories of the CUDA wheels it needs, which pip's
        # layout reaches through $ORIGIN/../.. and which cuDNN and torch dlopen by name.
        appendRunpaths = [
          "$ORIGIN"
          "${addDriverRunpath.driverLink}/lib"
        ];
        preFixup =
          searchLinked
          + lib.optionalString (linked != [ ]) ''
            while IFS= read -r -d "" directory; do
              appendRunpaths+=" $directory"
            done < <(find ${toString linked} -name 'lib*.so*' -printf '%h\0' | sort -zu)
          '';
        # As torch-bin and triton-bin: stripping breaks the CUDA libraries ("ELF load command
        # address/offset not properly aligned").
        dontStrip = true;
      }
    );
in
lib.fix (self: lib.mapAttrs (build self) available)

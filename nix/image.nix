# One layered OCI image of the application (callPackage'd by flake.nix).
#
# buildLayeredImage, not streamLayeredImage: the result is a compressed tarball in the store
# (`docker load < result`), so it has one hash, can be copied to a binary cache or pushed
# with skopeo (`docker-archive:result`), and CI loads exactly what `nix build` made. The
# store paths become shared layers, so the api and worker images share Python and its
# libraries. The stream variant would save writing the CUDA tarball (about 3 GB) to the
# store; see README ("With Nix").
{
  lib,
  dockerTools,
  symlinkJoin,
  writeTextDir,
  # the application: the full package for workers, the one without ML libraries for the api
  package,
  contract,
  image,
  revision,
  variant ? "cpu",
}:
let
  inherit (contract) user dataDir;
  config = import ./image-config.nix {
    inherit
      contract
      image
      revision
      variant
      ;
    inherit (package) version;
    executable = lib.getExe' package contract.program;
  };
  # /etc/passwd and /etc/group with root, nobody and the service user, for libraries that
  # look the current user up (getpass, pwd); written here rather than through fakeNss's
  # override arguments, which older nixpkgs lacks.
  etc = symlinkJoin {
    name = "fragrance-ai-etc";
    paths = [
      (writeTextDir "etc/passwd" ''
        root:x:0:0:root:/var/empty:/sbin/nologin
        ${user.name}:x:${toString user.uid}:${toString user.gid}:Fragrance AI:${dataDir}:/sbin/nologin
        nobody:x:65534:65534:nobody:/var/empty:/sbin/nologin
      '')
      (writeTextDir "etc/group" ''
        root:x:0:
        ${user.name}:x:${toString user.gid}:
        nobody:x:65534:
      '')
      (writeTextDir "etc/nsswitch.conf" ''
        hosts: files dns
      '')
    ];
  };
in
dockerTools.buildLayeredImage {
  name = "fragrance-ai-${image}" + lib.optionalString (variant == "cuda") "-cuda";
  tag = package.version;
  contents = [
    etc
    dockerTools.caCertificates
  ];
  # Runs under fakeroot in the customisation layer, whose root is the working directory:
  # the data directory belongs to the service user, /tmp is world-writable and sticky.
  fakeRootCommands = ''
    mkdir -p .${dataDir} tmp var/empty
    chown ${toString user.uid}:${toString user.gid} .${dataDir}
    chmod 0750 .${dataDir}
    chmod 1777 tmp
  '';
  # The default, spelt out: a fixed date keeps the image bit-reproducible ("now" would not).
  created = "1970-01-01T00:00:01Z";
  inherit config;
}

# The OCI config of one image, from nix/contract.json. Pure builtins, no nixpkgs: the
# tests in tests/nix evaluate it with any Nix, so the entrypoint and health check that the
# images declare are the ones the contract test checks against the Python command.
{
  contract,
  # a name in contract.images: "api", "worker-llm" or "worker-rl"
  image,
  # absolute path of the `fragrance-ai` program (a store path in a real image)
  executable,
  version,
  revision,
  # "cpu" or "cuda"
  variant ? "cpu",
}:
let
  spec = contract.images.${image};
  nanoseconds = seconds: seconds * 1000000000;
  environment =
    contract.environment // (if variant == "cuda" then contract.cudaEnvironment else { });
in
assert builtins.elem variant [
  "cpu"
  "cuda"
];
{
  Entrypoint = [ executable ];
  # The default subcommand; `docker run IMAGE migrate` replaces it.
  Cmd = spec.command;
  # Numeric, so it does not depend on /etc/passwd; the image carries a matching entry anyway.
  User = "${toString contract.user.uid}:${toString contract.user.gid}";
  WorkingDir = contract.dataDir;
  Env = map (name: "${name}=${environment.${name}}") (builtins.attrNames environment);
  ExposedPorts = builtins.listToAttrs (
    map (port: {
      name = "${toString port}/tcp";
      value = { };
    }) spec.ports
  );
  Volumes = {
    ${contract.dataDir} = { };
  };
  # Docker and Podman (docker format) run this; OCI runtimes and Kubernetes ignore it.
  # Durations are nanoseconds, as in the Docker image spec.
  Healthcheck = {
    Test = [
      "CMD"
      executable
    ]
    ++ spec.healthcheck;
    Interval = nanoseconds contract.healthcheck.intervalSeconds;
    Timeout = nanoseconds contract.healthcheck.timeoutSeconds;
    StartPeriod = nanoseconds spec.startPeriodSeconds;
    Retries = contract.healthcheck.retries;
  };
  Labels = {
    "org.opencontainers.image.title" = "fragrance-ai-${image}";
    "org.opencontainers.image.description" = spec.description;
    "org.opencontainers.image.version" = version;
    "org.opencontainers.image.revision" = revision;
    "ai.fragrance.variant" = variant;
  };
}

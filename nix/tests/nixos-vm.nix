# The NixOS module in a VM (needs Nix and KVM): `nix build .#checks.x86_64-linux.nixos-vm`.
# One host with createLocally PostgreSQL and Redis: waits for fragrance-ai.target, checks that
# migrations ran before the API, creates an API key (the production profile requires one),
# submits a brief over HTTP and waits for its formula, SIGKILLs a worker and sees systemd
# restart it, and scores the live units' hardening.
{ pkgs, self }:
pkgs.testers.runNixOSTest {
  name = "fragrance-ai-nixos-module";

  nodes.machine = {
    imports = [ self.nixosModules.default ];

    virtualisation = {
      memorySize = 4096;
      cores = 2;
      diskSize = 4096;
    };

    services.fragrance-ai = {
      enable = true;
      # Small limits that fit the VM; the defaults are sized for real hosts.
      api.memoryMax = "1G";
      workers.llm.memoryMax = "1500M";
      workers.rl.memoryMax = "1500M";
      settings.log_level = "INFO";
    };

    environment.systemPackages = [
      pkgs.curl
      pkgs.jq
    ];
  };

  testScript = ''
    import json

    api = "http://127.0.0.1:8000"
    units = [
        "fragrance-ai-api.service",
        "fragrance-ai-worker-llm-1.service",
        "fragrance-ai-worker-rl-1.service",
    ]


    def show(unit, prop):
        return machine.succeed(f"systemctl show --value -p {prop} {unit}").strip()


    def curl(arguments):
        return machine.succeed(f"curl -sf -H 'Authorization: Bearer {key}' {arguments}")


    machine.wait_for_unit("multi-user.target")
    # The target is reached once every Type=notify unit has said READY=1: the API after the
    # database and Redis answered, each worker after RQ registered it.
    machine.wait_for_unit("fragrance-ai.target", timeout=900)
    machine.wait_for_open_port(8000)

    with subtest("migrations ran, once, before the API and the workers"):
        assert show("fragrance-ai-migrate.service", "Result") == "success"
        migrated = int(show("fragrance-ai-migrate.service", "ExecMainExitTimestampMonotonic"))
        for unit in units:
            started = int(show(unit, "ExecMainStartTimestampMonotonic"))
            assert 0 < migrated <= started, (unit, migrated, started)
        machine.succeed(f"curl -sf {api}/ready | jq -e '.checks.migrations == \"ok\"'")

    with subtest("the production profile refuses a request without a key"):
        refused = machine.succeed(f"curl -s -o /dev/null -w '%{{http_code}}' {api}/v1/policies")
        assert refused == "401", refused
        # fragrance-ai-manage: as the service user, with the service's environment, so the key
        # lands in its database.
        key = machine.succeed(
            "fragrance-ai-manage keys create --name vm-test --scope admin"
        ).strip()

    with subtest("the API's socket belongs to systemd and outlives a restart"):
        assert show("fragrance-ai-api.socket", "ActiveState") == "active"
        machine.succeed("systemctl restart fragrance-ai-api.service")
        assert show("fragrance-ai-api.socket", "ActiveState") == "active"
        machine.succeed(f"curl -sf --retry 30 --retry-connrefused {api}/health")

    with subtest("health checks are systemd watchdogs"):
        for unit in units:
            assert show(unit, "Type") == "notify", unit
            assert show(unit, "Restart") == "on-failure", unit
        assert show("fragrance-ai-api.service", "WatchdogUSec") == "30s"
        assert show("fragrance-ai-worker-llm-1.service", "WatchdogUSec") == "2min"
        assert show("fragrance-ai-worker-llm-1.service", "MemoryMax") == str(1500 * 1024 * 1024)

    with subtest("a brief becomes a formula"):
        reply = json.loads(curl(
            f"-X POST {api}/v1/briefs -H 'content-type: application/json' "
            "-d '{\"text\": \"fresh citrus cologne for summer with a woody base\"}'"
        ))
        job = reply["job_id"]
        machine.wait_until_succeeds(
            f"curl -sf -H 'Authorization: Bearer {key}' {api}/v1/jobs/{job} "
            "| jq -e '.status == \"finished\"'",
            timeout=600,
        )
        result = json.loads(curl(f"{api}/v1/jobs/{job}"))["result"]
        formula = result["formula_ids"][0]
        machine.succeed(
            f"curl -sf -H 'Authorization: Bearer {key}' {api}/v1/formulas/{formula} "
            "| jq -e '.lines | length > 0'"
        )

    with subtest("a SIGKILLed worker is restarted"):
        unit = "fragrance-ai-worker-llm-1.service"
        pid = show(unit, "MainPID")
        restarts = int(show(unit, "NRestarts"))
        machine.succeed(f"kill -KILL {pid}")
        machine.wait_until_succeeds(
            f"test \"$(systemctl show --value -p MainPID {unit})\" != {pid} "
            f"&& test \"$(systemctl show --value -p ActiveState {unit})\" = active",
            timeout=600,
        )
        assert int(show(unit, "NRestarts")) == restarts + 1
        # Active again means READY=1 again: RQ registered the new process; and it works.
        reply = json.loads(curl(
            f"-X POST {api}/v1/briefs -H 'content-type: application/json' "
            "-d '{\"text\": \"warm amber oriental for winter evenings\"}'"
        ))
        machine.wait_until_succeeds(
            f"curl -sf -H 'Authorization: Bearer {key}' {api}/v1/jobs/{reply['job_id']} "
            "| jq -e '.status == \"finished\"'",
            timeout=600,
        )

    with subtest("hardening, scored on the live units"):
        # --threshold is on systemd's 0-100 scale: 20 is an exposure of 2.0.
        for unit in units + ["fragrance-ai-migrate.service"]:
            machine.succeed(f"systemd-analyze security --threshold=20 {unit}")
    '';
}

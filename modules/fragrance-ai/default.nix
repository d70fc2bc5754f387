# services.fragrance-ai: the HTTP API, its RQ workers and the schema migration as systemd
# units under fragrance-ai.target, with health checks (Type=notify + WatchdogSec, fed only
# while the process itself is alive), per-unit resource limits, one slice with an overall
# budget, and hardening that opens the NVIDIA devices to GPU workers only.
# Guide: docs/deployment.md. Offline tests: tests/nixos_module/.
#
# Read options.nix first: every option, grouped by concern. Each other file renders one part:
#   assertions.nix  what the types cannot check: assertions and warnings
#   users.nix       the service user and group
#   target.nix      fragrance-ai.target and fragrance-ai.slice, which group every unit
#   database.nix    the local PostgreSQL database and role (database.createLocally)
#   redis.nix       the local Redis on a Unix socket (redis.createLocally)
#   migrate.nix     fragrance-ai-migrate.service, the schema migration (and backup) oneshot
#   api.nix         fragrance-ai-api.service and its socket
#   workers.nix     fragrance-ai-worker-<group>-<i>.service, the replicas of each worker group
#   manage.nix      fragrance-ai-manage, the CLI as the services run it
#   monitoring.nix  Prometheus scraping and rules, Grafana dashboards, when the host runs them
#   nginx.nix       the nginx virtual host and the firewall
# and two files that are not modules but values the others import:
#   common.nix      values derived from the options: paths, URLs, the shared environment
#   hardening.nix   the serviceConfig every unit shares (sandbox, limits, health, GPU access)
{
  imports = [
    ./options.nix
    ./assertions.nix
    ./users.nix
    ./target.nix
    ./database.nix
    ./redis.nix
    ./migrate.nix
    ./api.nix
    ./workers.nix
    ./manage.nix
    ./monitoring.nix
    ./nginx.nix
  ];
}

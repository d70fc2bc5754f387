# `nix develop`: the Python environment with the dev tools, PostgreSQL and Redis
# (callPackage'd by flake.nix). The Python is the locks' (nix/dev-python.nix: both locks'
# packages from their pins, and the models, as ./scripts/bootstrap --dev puts them in .venv;
# ruff, mypy and pytest included). `fragrance-ai` here runs the working tree's code, so
# `nix develop -c fragrance-ai dev` serves what you are editing.
{
  mkShell,
  writeShellApplication,
  # python3.11.withPackages of the locks' packages (nix/dev-python.nix)
  python,
  pythonVersion,
  nixfmt,
  actionlint,
  postgresql,
  redis,
  git,
}:
let
  # The repository root, so the commands work from any subdirectory.
  findRoot = ''
    root=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
  '';

  fragrance-ai = writeShellApplication {
    name = "fragrance-ai";
    runtimeInputs = [
      python
      git
    ];
    text = findRoot + ''
      export PYTHONPATH="$root''${PYTHONPATH:+:$PYTHONPATH}"
      exec python -m fragrance_ai.cli "$@"
    '';
  };

  # PostgreSQL and Redis on 127.0.0.1 (the ports the integration tests default to), with
  # their state under ./var/services.
  services = writeShellApplication {
    name = "fragrance-ai-services";
    runtimeInputs = [
      postgresql
      redis
      git
    ];
    text = findRoot + ''
      state="''${FRAGRANCE_AI_SERVICES_DIR:-$root/var/services}"
      case "''${1:-}" in
        start)
          mkdir -p "$state"
          if [[ ! -f "$state/postgres/PG_VERSION" ]]; then
            initdb --auth=trust --username=postgres -D "$state/postgres" >/dev/null
          fi
          pg_ctl -D "$state/postgres" -l "$state/postgres.log" -w \
            -o "-c listen_addresses=127.0.0.1 -c port=5432 -k '$state'" start
          redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --dir "$state" \
            --pidfile "$state/redis.pid" --logfile "$state/redis.log"
          echo "PostgreSQL: postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
          echo "Redis:      redis://127.0.0.1:6379/0"
          ;;
        stop)
          pg_ctl -D "$state/postgres" -m fast stop || true
          redis-cli -h 127.0.0.1 -p 6379 shutdown nosave || true
          ;;
        status)
          pg_ctl -D "$state/postgres" status || true
          redis-cli -h 127.0.0.1 -p 6379 ping || true
          ;;
        *)
          echo "usage: fragrance-ai-services start|stop|status" >&2
          exit 2
          ;;
      esac
    '';
  };
in
mkShell {
  packages = [
    python
    fragrance-ai
    services
    nixfmt
    actionlint
    postgresql
    redis
    git
  ];
  shellHook = ''
    # The working tree's package for python, pytest and mypy; never ./.venv's.
    export PYTHONPATH="$(git rev-parse --show-toplevel 2>/dev/null || pwd)''${PYTHONPATH:+:$PYTHONPATH}"
    cat >&2 <<'EOF'
    Fragrance AI dev shell (Python ${pythonVersion}, the locks' packages)
      fragrance-ai dev                 API and both workers: SQLite under ./var, in-process queue
      fragrance-ai-services start      PostgreSQL and Redis on 127.0.0.1 (state in ./var/services)
        export DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres
        export REDIS_URL=redis://127.0.0.1:6379/0
        fragrance-ai migrate && fragrance-ai dev   (workers start as child processes)
      ruff check . && ruff format --check . && mypy && pytest    what CI runs
      fragrance-ai-services stop
    EOF
  '';
}

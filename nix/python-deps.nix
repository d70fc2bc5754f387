# The Python dependencies by role, as attribute names, shared by the package and the dev
# shell. They mirror pyproject.toml. nix/package.nix passes nixpkgs' set with the lock's
# packages (nix/lock-packages.nix) laid over it, so runtime and ml are the lock's versions;
# `checks.<system>.lock-drift` holds them to requirements-lock.txt. test and dev, which the
# lock does not hold, come from nixpkgs.
ps: {
  runtime = [
    ps.alembic
    ps.fastapi
    ps.numpy
    ps.prometheus-client
    ps.psycopg
    ps.pydantic
    ps.pydantic-settings
    ps.pyyaml
    ps.redis
    ps.rq
    ps.safetensors
    ps.sqlalchemy
    ps.uvicorn
  ];
  # pyproject's `ml` extra: only the workers import these.
  ml = [
    ps.accelerate
    ps.deap
    ps.gguf
    ps.llguidance
    ps.moocore
    ps.tensorboardx
    ps.torch
    ps.transformers
  ];
  # What the unit tests import besides the runtime (fastapi's TestClient needs httpx).
  test = [
    ps.httpx
    ps.hypothesis
    ps.pytest
    ps.pytest-timeout
  ];
  # The rest of requirements-dev.in; ruff comes from the top-level package set.
  dev = [
    ps.mypy
    ps.pip-tools
    ps.types-pyyaml
  ];
}

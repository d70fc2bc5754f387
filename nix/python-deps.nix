# The Python dependencies by role, as nixpkgs attribute names, shared by the package and
# the dev shell. They mirror pyproject.toml; `checks.<system>.lock-drift` compares the
# versions nixpkgs has with requirements-lock.txt.
ps: {
  runtime = [
    ps.alembic
    ps.fastapi
    ps.prometheus-client
    ps.psycopg
    ps.pydantic
    ps.pydantic-settings
    ps.pyyaml
    ps.redis
    ps.rq
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

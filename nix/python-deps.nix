# The application's Python dependencies by role, as attribute names (nix/package.nix). They
# mirror pyproject.toml. nix/package.nix passes nixpkgs' set with the locks' packages
# (nix/lock-packages.nix) laid over it, so runtime and ml are the locks' versions;
# `checks.<system>.lock-drift` holds them to the locks. test, the tools the package's own
# unit tests run with (build time only, never in its closure), comes from nixpkgs: the locks'
# pytest beside nixpkgs' pytestCheckHook, which brings nixpkgs' pytest, would be two pytests.
# The dev shell takes its tools from the dev lock instead (nix/dev-python.nix).
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
}

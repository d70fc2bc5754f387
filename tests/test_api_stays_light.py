"""The API process never loads torch or transformers: they are gigabytes the API has no use for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from fastapi.testclient import TestClient
from fragrance_ai.api.app import create_app
from fragrance_ai.db.migrate import upgrade_to_head
from fragrance_ai.runtime import build_runtime
from fragrance_ai.settings import Settings

runtime = build_runtime(Settings(_env_file=None, data_dir=sys.argv[1]))
upgrade_to_head(runtime.engine)
with TestClient(create_app(runtime)) as client:
    assert client.get("/ready").status_code == 200
    assert client.get("/v1/ingredients").status_code == 200
heavy = sorted(name for name in ("torch", "transformers", "deap") if name in sys.modules)
print(",".join(heavy) or "none")
"""


def test_the_api_process_never_imports_torch_transformers_or_deap(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "none"

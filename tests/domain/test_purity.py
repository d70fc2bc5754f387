import subprocess
import sys

FORBIDDEN = ("fastapi", "starlette", "sqlalchemy", "redis", "rq", "torch", "fragrance_ai.api")


def test_domain_imports_no_infrastructure() -> None:
    # A fresh interpreter, so modules imported by other tests cannot hide a leak.
    code = (
        "import importlib, pkgutil, sys\n"
        "import fragrance_ai.domain as domain\n"
        "for module in pkgutil.iter_modules(domain.__path__):\n"
        "    importlib.import_module(f'fragrance_ai.domain.{module.name}')\n"
        f"leaked = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == ""

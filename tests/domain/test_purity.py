import subprocess
import sys

FORBIDDEN = ("fastapi", "sqlalchemy", "redis", "rq", "torch")


def test_domain_imports_no_infrastructure() -> None:
    # A fresh interpreter, so modules imported by other tests cannot hide a leak.
    code = (
        "import sys\n"
        "import fragrance_ai.domain.designer, fragrance_ai.domain.parser\n"
        "import fragrance_ai.domain.repair\n"
        f"leaked = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == ""

"""`python -m fragrance_ai.cli`: the same command as the `fragrance-ai` script."""

import sys

from fragrance_ai.cli.main import main

sys.exit(main())

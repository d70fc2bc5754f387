"""Development tools: run from a checkout, never installed (the wheel holds fragrance_ai only)."""

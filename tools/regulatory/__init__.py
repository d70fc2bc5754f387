"""Tools that turn regulators' own files into fragrance_ai/data/regulatory."""

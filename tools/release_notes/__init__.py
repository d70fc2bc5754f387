"""Release notes from git history: `scripts/release-notes` (docs/operations.md, "Release notes").

A development tool for whoever cuts a release from a git checkout: outside the wheel, like
everything under tools/, and importing nothing from fragrance_ai.
"""

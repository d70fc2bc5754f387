"""Release notes from git history: `fragrance-ai release-notes` (docs/operations.md)."""

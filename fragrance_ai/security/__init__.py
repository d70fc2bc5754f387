"""API keys: their format, hashing and scopes (pure: no I/O)."""

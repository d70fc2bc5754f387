"""`python -m tools.release_notes` (what `scripts/release-notes` runs)."""

from tools.release_notes.command import main

raise SystemExit(main())

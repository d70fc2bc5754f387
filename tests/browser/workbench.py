"""What the browser tests' fixtures give (tests/browser/conftest.py), for annotations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page


@dataclass(frozen=True)
class Workbench:
    """A running `fragrance-ai dev`: `url` is its origin, `log_path` its stdout and stderr."""

    url: str
    log_path: Path


# The `shoot` fixture: shoot(page, name) saves a full-page PNG and returns where.
Shoot = Callable[[Page, str], Path]

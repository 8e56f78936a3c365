"""The acceptance walk reuses the HTTP end-to-end fixtures (real app, both backends)."""

from tests.e2e.conftest import api, desk, shelfmark

__all__ = ["api", "desk", "shelfmark"]

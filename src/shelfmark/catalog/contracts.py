"""The events the catalog publishes to other contexts (its published language)."""

from shelfmark.catalog.domain.events import BookAdded, CopyAdded

__all__ = ["BookAdded", "CopyAdded"]

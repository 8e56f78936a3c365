"""Catalog adapters."""

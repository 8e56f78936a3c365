"""Patron adapters."""

"""Shelfmark: a library circulation backend."""

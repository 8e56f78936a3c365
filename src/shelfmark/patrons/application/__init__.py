"""Patron use cases."""

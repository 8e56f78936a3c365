"""Catalog: what the library holds (books and their copies)."""

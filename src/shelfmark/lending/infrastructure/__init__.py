"""Lending adapters."""

"""Lending use cases."""

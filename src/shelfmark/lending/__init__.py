"""Lending: loans, holds and fee accounts (circulation)."""

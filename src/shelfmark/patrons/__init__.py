"""Patrons: who may borrow."""

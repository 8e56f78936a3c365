"""Notifications: telling patrons what happened (e-mail)."""

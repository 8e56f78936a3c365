"""Notifications domain: a message to a patron and its delivery state."""

"""Plain-Python patron model."""

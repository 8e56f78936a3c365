"""Plain-Python lending model."""

"""Plain-Python catalog model."""

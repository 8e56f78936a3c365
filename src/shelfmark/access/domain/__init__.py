"""Plain-Python account model."""

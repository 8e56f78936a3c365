"""Search use cases: keep the index current from events, and query it."""

"""Long-running work beside the HTTP API: the scheduler (and later the relay and consumers)."""

"""Account use cases: log in, manage staff users."""

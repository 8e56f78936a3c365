"""SQLAlchemy building blocks shared by every context's adapters."""

"""The index in SQL: one table, with full text on PostgreSQL and on SQLite."""

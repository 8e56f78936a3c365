"""Account adapters: table, repository, Argon2 hashing."""

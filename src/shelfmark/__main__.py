"""`python -m shelfmark` is the `shelfmark` command."""

from shelfmark.entrypoints.cli import app

app()

"""Relevance on SQLite: FTS5 over title and author (diacritics removed by its tokenizer), the
words as prefixes, ranked by bm25. SQLite has no typo tolerance: a misspelt word finds
nothing there (PostgreSQL's trigrams do find it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, column, literal_column, select, table

from shelfmark.search.infrastructure.orm import book_search
from shelfmark.search.infrastructure.search import SqlBookSearch, rounded

fts = table("book_search_fts", column("rowid"))


class SqliteBookSearch(SqlBookSearch):
    def _ranked(self, words: list[str], filters: list[ColumnElement[bool]]) -> Select[Any]:
        match = " ".join(f'"{word}"*' for word in words)
        rank: ColumnElement[Any] = -literal_column("bm25(book_search_fts)")
        return (
            select(book_search, rounded(rank).label("rank"))
            .select_from(fts.join(book_search, literal_column("book_search.rowid") == fts.c.rowid))
            .where(literal_column("book_search_fts").op("MATCH")(match), *filters)
        )

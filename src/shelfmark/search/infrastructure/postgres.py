"""Relevance on PostgreSQL: the words as prefixes (`dun:* & herb:*`) over an unaccented
tsvector; only when no entry has the words, trigram word similarity (`<%`, pg_trgm's
threshold), so a typo still finds the book. Both are served by GIN
expression indexes that repeat these very expressions (migration 0005), which is why the
text search configuration is written as a constant rather than sent as a parameter."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, or_, select

from shelfmark.search.infrastructure.orm import book_search
from shelfmark.search.infrastructure.search import SqlBookSearch, rounded

SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")


class PostgresBookSearch(SqlBookSearch):
    def _ranked(self, words: list[str], text: str) -> Select[Any]:
        unaccented = func.shelfmark_unaccent(book_search.c.search_text)
        document = func.to_tsvector(SIMPLE, unaccented)
        prefixes = " & ".join(f"{word}:*" for word in words)
        query = func.to_tsquery(SIMPLE, func.shelfmark_unaccent(prefixes))
        typed = func.shelfmark_unaccent(" ".join(words))
        rank = func.ts_rank(document, query) + func.word_similarity(typed, unaccented)
        words_match = document.op("@@")(query)
        nothing_matches = ~select(book_search.c.book_id).where(words_match).exists()
        return select(book_search, rounded(rank).label("rank")).where(
            or_(words_match, and_(nothing_matches, typed.op("<%")(unaccented)))
        )

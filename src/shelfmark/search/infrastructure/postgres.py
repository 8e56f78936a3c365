"""Relevance on PostgreSQL: the words as prefixes (`dun:* & herb:*`) over an unaccented
tsvector; only when no entry has the words, trigram word similarity (`<%`, pg_trgm's
threshold), so a typo still finds the book. Both are served by GIN
expression indexes that repeat these very expressions (migration 0005), which is why the
text search configuration is written as a constant rather than sent as a parameter.

The typo search is a second statement, run only when the first found nothing; whether any
entry has the words is then asked of the GIN index through a materialised CTE. As one
statement (`words OR (NOT EXISTS words AND typo)`) the planner read both indexes and filtered
every row for a word that matched, and answered the EXISTS with a sequential scan for one
that did not (it expects a prefix nobody has to be common): 6 s at a million books."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select

from shelfmark.search.infrastructure.orm import book_search
from shelfmark.search.infrastructure.search import SqlBookSearch, rounded

SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")


def _unaccented() -> ColumnElement[Any]:
    return func.shelfmark_unaccent(book_search.c.search_text)


def _has_words(words: list[str]) -> ColumnElement[bool]:
    return _document().op("@@")(_prefixes(words))


def _document() -> ColumnElement[Any]:
    return func.to_tsvector(SIMPLE, _unaccented())


def _prefixes(words: list[str]) -> ColumnElement[Any]:
    return func.to_tsquery(SIMPLE, func.shelfmark_unaccent(" & ".join(f"{w}:*" for w in words)))


def _typed(words: list[str]) -> ColumnElement[Any]:
    return func.shelfmark_unaccent(" ".join(words))


def _entries(words: list[str]) -> Select[Any]:
    words_rank = func.ts_rank(_document(), _prefixes(words))
    rank = words_rank + func.word_similarity(_typed(words), _unaccented())
    return select(book_search, rounded(rank).label("rank"))


class PostgresBookSearch(SqlBookSearch):
    def _ranked(self, words: list[str], filters: list[ColumnElement[bool]]) -> Select[Any]:
        return _entries(words).where(_has_words(words), *filters)

    async def _near(
        self, words: list[str], filters: list[ColumnElement[bool]]
    ) -> Select[Any] | None:
        having = (
            select(book_search.c.book_id)
            .where(_has_words(words))
            .cte("having_the_words")
            .prefix_with("MATERIALIZED")
        )
        async with self._engine.connect() as connection:
            if await connection.scalar(select(select(having.c.book_id).exists())):
                return None
        return _entries(words).where(_typed(words).op("<%")(_unaccented()), *filters)

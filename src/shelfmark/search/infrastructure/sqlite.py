"""Relevance on SQLite: FTS5 over title and author (diacritics removed by its tokenizer), the
words as prefixes, ranked by bm25. SQLite has no typo tolerance: a misspelt word finds
nothing there (PostgreSQL's trigrams do find it).

A common word is not ranked, as on PostgreSQL: bm25 scores every entry that holds the word
before the page is cut, 16 to 40 ms for a word in one entry of eight at 100,000 books, and ten
times that at a million. Counting the entries that hold the words stops at `RANKED_AT_MOST`
(under a millisecond); past it, the pages walk the popularity index and keep the entries found
in the word index's list of matches, 2 to 5 ms at 100,000 books. The unary `+` on the rowid
is SQLite's idiom for "no index for this term": without it the planner fetches every match
by rowid and sorts them all, which is what this avoids.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, column, func, literal_column, select, table, tuple_

from shelfmark.search.infrastructure.orm import book_search
from shelfmark.search.infrastructure.search import SqlBookSearch, rounded
from shelfmark.seedwork.infrastructure.reading import reading

fts = table("book_search_fts", column("rowid"))
#: Above this many entries holding the words, pages come in popularity order.
RANKED_AT_MOST = 1_000
NOT_BY_ROWID: ColumnElement[Any] = literal_column("+book_search.rowid")


def _matching(words: list[str]) -> ColumnElement[bool]:
    return literal_column("book_search_fts").op("MATCH")(" ".join(f'"{w}"*' for w in words))


class SqliteBookSearch(SqlBookSearch):
    ranks_by_catalogue = True  # bm25 weighs a word by how many entries hold it

    async def _is_common(self, words: list[str]) -> bool:
        holding = select(fts.c.rowid).where(_matching(words)).limit(RANKED_AT_MOST + 1)
        async with reading(self._engine) as connection:
            found = await connection.scalar(select(func.count()).select_from(holding.subquery()))
        return int(found or 0) > RANKED_AT_MOST

    def _popular(
        self, words: list[str], filters: list[ColumnElement[bool]], after: tuple[int, UUID] | None
    ) -> Select[Any]:
        having = select(fts.c.rowid).where(_matching(words))
        walk = select(book_search).where(NOT_BY_ROWID.in_(having), *filters)
        if after is not None:
            walk = walk.where(tuple_(book_search.c.copies_total, book_search.c.book_id) < after)
        return walk.order_by(book_search.c.copies_total.desc(), book_search.c.book_id.desc())

    def _ranked(self, words: list[str], filters: list[ColumnElement[bool]]) -> Select[Any]:
        rank: ColumnElement[Any] = -literal_column("bm25(book_search_fts)")
        return (
            select(book_search, rounded(rank).label("rank"))
            .select_from(fts.join(book_search, literal_column("book_search.rowid") == fts.c.rowid))
            .where(_matching(words), *filters)
        )

"""Relevance on PostgreSQL: the words as prefixes (`dun:* & herb:*`) over the stored,
unaccented word vector (`document`, title weighted above author), ranked by `ts_rank`
(`_relevance`); only
when no entry has the words, trigram word similarity (`<%`, pg_trgm's threshold), so a typo
still finds the book. GIN indexes serve both (migrations 0005 and 0006); the trigram index
repeats the typo search's expression, which is why the text search configuration is written
as a constant rather than sent as a parameter.

A common word is not ranked: scoring the 60,000 entries that hold "garden" in a million takes
about half a second. The first page looks at the first `SAMPLE` entries in popularity order;
when the words' share of them, over the whole index, makes more than `RANKED_AT_MOST`
entries, the pages walk the popularity index and keep the entries that have the words, which
stops after a page's worth (a few hundred rows for a word one entry in twenty holds).

The typo search is a second statement, run only when the first found nothing; whether any
entry has the words is then asked of the GIN index through a materialised CTE. As one
statement (`words OR (NOT EXISTS words AND typo)`) the planner read both indexes and filtered
every row for a word that matched, and answered the EXISTS with a sequential scan for one
that did not (it expects a prefix nobody has to be common): 6 s at a million books."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Float, Select, func, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import TSVECTOR

from shelfmark.search.infrastructure.orm import book_search
from shelfmark.search.infrastructure.search import SqlBookSearch, rounded
from shelfmark.seedwork.infrastructure.reading import reading

SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")
DOCUMENT: ColumnElement[Any] = literal_column("book_search.document", TSVECTOR)
#: How many entries, in popularity order, the first page of a search looks at.
SAMPLE = 1_000
#: Above this many entries holding the words (estimated), pages come in popularity order.
RANKED_AT_MOST = 2_000
#: The planner's estimate of the index's size: exact enough, and free.
ENTRIES: ColumnElement[Any] = literal_column(
    "(SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'book_search'::regclass)"
)
POPULARITY = (book_search.c.copies_total.desc(), book_search.c.book_id.desc())


def _unaccented() -> ColumnElement[Any]:
    return func.shelfmark_unaccent(book_search.c.search_text)


def _prefixes(words: list[str]) -> ColumnElement[Any]:
    return func.to_tsquery(SIMPLE, func.shelfmark_unaccent(" & ".join(f"{w}:*" for w in words)))


def _whole_words(words: list[str]) -> ColumnElement[Any]:
    return func.to_tsquery(SIMPLE, func.shelfmark_unaccent(" | ".join(words)))


def _relevance(words: list[str]) -> ColumnElement[Any]:
    """Words in the title weigh more than in the author's name; a whole word more than a
    prefix of a longer one; a short entry more than a long one (normalisation 1)."""
    by_prefix = func.ts_rank(DOCUMENT, _prefixes(words), 1, type_=Float)
    return by_prefix + func.ts_rank(DOCUMENT, _whole_words(words), 1, type_=Float)


def _has_words(words: list[str], document: ColumnElement[Any] = DOCUMENT) -> ColumnElement[bool]:
    return document.op("@@")(_prefixes(words))


def _typed(words: list[str]) -> ColumnElement[Any]:
    return func.shelfmark_unaccent(" ".join(words))


class PostgresBookSearch(SqlBookSearch):
    async def _is_common(self, words: list[str]) -> bool:
        sample = (
            select(DOCUMENT.label("document"))
            .select_from(book_search)
            .order_by(*POPULARITY)
            .limit(SAMPLE)
            .subquery()
        )
        shares = select(
            func.count().filter(_has_words(words, sample.c.document)),
            func.count(),
            ENTRIES,
        ).select_from(sample)
        async with reading(self._engine) as connection:
            holding, sampled, total = (await connection.execute(shares)).one()
        estimate = holding * max(float(total), sampled) / max(sampled, 1)
        return bool(estimate > RANKED_AT_MOST)

    def _popular(
        self, words: list[str], filters: list[ColumnElement[bool]], after: tuple[int, UUID] | None
    ) -> Select[Any]:
        walk = select(book_search, DOCUMENT.label("document")).where(*filters)
        if after is not None:
            walk = walk.where(tuple_(book_search.c.copies_total, book_search.c.book_id) < after)
        # OFFSET keeps the walk a subquery of its own: the planner cannot turn it into
        # "find every entry with the words, then sort them", which is what this avoids.
        ordered = walk.order_by(*POPULARITY).offset(0).subquery()
        return (
            select(*(ordered.c[column.name] for column in book_search.c))
            .where(_has_words(words, ordered.c.document))
            .order_by(ordered.c.copies_total.desc(), ordered.c.book_id.desc())
        )

    def _ranked(self, words: list[str], filters: list[ColumnElement[bool]]) -> Select[Any]:
        return select(book_search, rounded(_relevance(words)).label("rank")).where(
            _has_words(words), *filters
        )

    async def _near(
        self, words: list[str], filters: list[ColumnElement[bool]]
    ) -> Select[Any] | None:
        having = (
            select(book_search.c.book_id)
            .where(_has_words(words))
            .cte("having_the_words")
            .prefix_with("MATERIALIZED")
        )
        async with reading(self._engine) as connection:
            if await connection.scalar(select(select(having.c.book_id).exists())):
                return None
        rank = func.word_similarity(_typed(words), _unaccented())
        return select(book_search, rounded(rank).label("rank")).where(
            _typed(words).op("<%")(_unaccented()), *filters
        )

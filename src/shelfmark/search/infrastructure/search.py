"""Searching the index: filters combine with `q`; pages are keyset pages, by title without
`q` and by relevance with it, so a deep page costs what the first one does.

The relevance of a match comes from the database's own full-text search (see `postgres.py`
and `sqlite.py`); it is rounded to six places so the cursor carries it exactly. Ranking means
scoring every entry that holds the words before cutting the page, so for a common word (each
database tells one in its own way: `_is_common`) the entries come in popularity order instead
(most copies first), walking an index and stopping at the page.

A cursor says which order it belongs to (`t:` title, `r:` relevance, `p:` popularity) before
its sort key, so a cursor of one order given to another, or anything else this list never
issued, is the caller's error (422 naming `query.cursor`), never a page from a wrong place or
a 500.
"""

from __future__ import annotations

import abc
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Numeric, Select, and_, cast, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.search.application.queries import BookHit, SearchPage, SearchQuery
from shelfmark.search.infrastructure.orm import book_search
from shelfmark.seedwork.domain import InvalidValue
from shelfmark.seedwork.infrastructure.reading import one_read_connection, reading
from shelfmark.seedwork.pagination import PageRequest, page_of


class SqlBookSearch(abc.ABC):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    #: Whether a match's rank depends on the rest of the catalogue (see `SearchPage`).
    ranks_by_catalogue: bool = False

    async def search(self, query: SearchQuery, page: PageRequest) -> SearchPage:
        async with one_read_connection(self._engine):  # a search may ask two or three things
            return await self._search(query, page)

    async def _search(self, query: SearchQuery, page: PageRequest) -> SearchPage:
        words = words_of(query.q or "")
        if not words:
            return await self._page(self._by_title(query, page), page, _title_key)
        filters = _filters(query)
        if _is_popular(page.after) or (page.after is None and await self._is_common(words)):
            popular_after = None if page.after is None else _popular_after(page.after)
            popular = self._popular(words, filters, popular_after).limit(page.limit + 1)
            return await self._page(popular, page, _popular_key, words_only=True)
        after = None if page.after is None else _rank_after(page.after)
        ranked = _in_rank_order(self._ranked(words, filters), page, after)
        words_only = not self.ranks_by_catalogue
        found = await self._page(ranked, page, _rank_key, words_only=words_only)
        if found.items:
            return found
        near = await self._near(words, filters)
        if near is None:
            return SearchPage([], None)  # nothing found: any new book may be
        return await self._page(_in_rank_order(near, page, after), page, _rank_key)

    async def _is_common(self, words: list[str]) -> bool:
        """Whether so many entries hold the words that ranking them all would be slow."""
        return False

    def _popular(
        self, words: list[str], filters: list[ColumnElement[bool]], after: tuple[int, UUID] | None
    ) -> Select[Any]:
        """The entries that have the words and pass the filters, most copies first (then by
        id, descending), after `after`; only for a database whose `_is_common` can say yes."""
        raise _not_ours("search")

    @abc.abstractmethod
    def _ranked(self, words: list[str], filters: list[ColumnElement[bool]]) -> Select[Any]:
        """The entries that have the words and pass the filters, with a `rank` column (higher
        is better)."""

    async def _near(
        self, words: list[str], filters: list[ColumnElement[bool]]
    ) -> Select[Any] | None:
        """What to search instead when no entry has the words (near spellings, ranked like
        `_ranked`); None when entries have them, or the database cannot tell what is near."""
        return None

    def _by_title(self, query: SearchQuery, page: PageRequest) -> Select[Any]:
        statement = select(book_search).where(*_filters(query))
        if page.after is not None:
            statement = statement.where(
                tuple_(book_search.c.title, book_search.c.book_id) > _title_after(page.after)
            )
        return statement.order_by(book_search.c.title, book_search.c.book_id).limit(page.limit + 1)

    async def _page(
        self, statement: Select[Any], page: PageRequest, key: Any, *, words_only: bool = False
    ) -> SearchPage:
        async with reading(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        found = page_of(rows, page, key)
        return SearchPage([_hit(r) for r in found.items], found.next_cursor, words_only)


def _in_rank_order(
    ranked: Select[Any], page: PageRequest, after: tuple[Decimal, UUID] | None
) -> Select[Any]:
    entries = ranked.subquery()
    statement = select(entries)
    if after is not None:
        rank, book_id = after
        statement = statement.where(
            or_(entries.c.rank < rank, and_(entries.c.rank == rank, entries.c.book_id > book_id))
        )
    statement = statement.order_by(entries.c.rank.desc(), entries.c.book_id)
    return statement.limit(page.limit + 1)


def words_of(text: str) -> list[str]:
    """The words of a query: letters and digits only, so nothing reaches a full-text parser
    that it could read as syntax."""
    cleaned = "".join(c if c.isalnum() else " " for c in text.lower())
    return cleaned.split()[:10]


def rounded(rank: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.round(cast(rank, Numeric), 6)


TITLE_ORDER, RANK_ORDER, POPULAR_ORDER = "t:", "r:", "p:"
#: Ranks carry six decimal places (`rounded`) and stay far below this.
MAX_RANK = Decimal(10**6)
RANK_PLACES = Decimal("0.000001")


def _title_key(row: Any) -> tuple[str, str]:
    return (TITLE_ORDER + row.title, str(row.book_id))


def _rank_key(row: Any) -> tuple[str, str]:
    return (RANK_ORDER + str(row.rank), str(row.book_id))


def _popular_key(row: Any) -> tuple[str, str]:
    return (POPULAR_ORDER + str(row.copies_total), str(row.book_id))


def _is_popular(after: tuple[Any, ...] | None) -> bool:
    return after is not None and str(after[0]).startswith(POPULAR_ORDER)


def _popular_after(after: tuple[Any, ...]) -> tuple[int, UUID]:
    copies = str(after[0]).removeprefix(POPULAR_ORDER)
    if not copies.isascii() or not copies.isdigit() or len(copies) > 9:
        raise _not_ours("search")
    try:
        return int(copies), UUID(str(after[1]))
    except ValueError:
        raise _not_ours("search") from None


def _not_ours(order: str) -> InvalidValue:
    return InvalidValue("query.cursor", f"the cursor is not one this {order} issued")


def _title_after(after: tuple[Any, ...]) -> tuple[str, UUID]:
    key = str(after[0])
    if not key.startswith(TITLE_ORDER):
        raise _not_ours("list")
    try:
        title = key.removeprefix(TITLE_ORDER)
        title.encode()  # a lone surrogate (a JSON escape) is no title and no database's text
        return title, UUID(str(after[1]))
    except ValueError:  # UnicodeEncodeError included
        raise _not_ours("list") from None


def _rank_after(after: tuple[Any, ...]) -> tuple[Decimal, UUID]:
    key = str(after[0])
    if not key.startswith(RANK_ORDER):
        raise _not_ours("search")
    try:
        rank = Decimal(key.removeprefix(RANK_ORDER))
        if not rank.is_finite() or abs(rank) >= MAX_RANK or rank != rank.quantize(RANK_PLACES):
            raise _not_ours("search")  # NaN, infinities, exponents: no rank we rounded
        return rank, UUID(str(after[1]))
    except (InvalidOperation, ValueError):
        raise _not_ours("search") from None


def _like(column: Any, text: str) -> ColumnElement[bool]:
    return func.lower(column).contains(text.lower(), autoescape=True)


def _filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    conditions = []
    if query.title:
        conditions.append(_like(book_search.c.title, query.title))
    if query.author:
        conditions.append(_like(book_search.c.author, query.author))
    if query.isbn:
        conditions.append(book_search.c.isbn == query.isbn)
    if query.available is not None:
        available = book_search.c.copies_available > 0
        conditions.append(available if query.available else ~available)
    return conditions


def _hit(row: Any) -> BookHit:
    return BookHit(
        id=row.book_id,
        isbn=row.isbn,
        title=row.title,
        author=row.author,
        published_year=row.published_year,
        copies_total=row.copies_total,
        copies_available=row.copies_available,
        copies_on_hold_shelf=row.copies_on_hold_shelf,
        holds_waiting=row.holds_waiting,
    )

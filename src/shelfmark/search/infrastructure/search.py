"""Searching the index: filters combine with `q`; pages are keyset pages, by title without
`q` and by relevance with it, so a deep page costs what the first one does.

The relevance of a match comes from the database's own full-text search (see `postgres.py`
and `sqlite.py`); it is rounded to six places so the cursor carries it exactly.
"""

from __future__ import annotations

import abc
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Numeric, Select, and_, cast, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.search.application.queries import BookHit, SearchQuery
from shelfmark.search.infrastructure.orm import book_search
from shelfmark.seedwork.domain import InvalidValue
from shelfmark.seedwork.pagination import Page, PageRequest, page_of


class SqlBookSearch(abc.ABC):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def search(self, query: SearchQuery, page: PageRequest) -> Page[BookHit]:
        words = words_of(query.q or "")
        if not words:
            return await self._page(self._by_title(query, page), page, _title_key)
        ranked = self._ranked(words, query.q or "").where(*_filters(query)).subquery()
        statement = select(ranked)
        if page.after is not None:
            rank, book_id = _rank_after(page.after)
            statement = statement.where(
                or_(ranked.c.rank < rank, and_(ranked.c.rank == rank, ranked.c.book_id > book_id))
            )
        statement = statement.order_by(ranked.c.rank.desc(), ranked.c.book_id)
        return await self._page(statement.limit(page.limit + 1), page, _rank_key)

    @abc.abstractmethod
    def _ranked(self, words: list[str], text: str) -> Select[Any]:
        """Matching entries with a `rank` column (higher is better)."""

    def _by_title(self, query: SearchQuery, page: PageRequest) -> Select[Any]:
        statement = select(book_search).where(*_filters(query))
        if page.after is not None:
            statement = statement.where(
                tuple_(book_search.c.title, book_search.c.book_id) > _title_after(page.after)
            )
        return statement.order_by(book_search.c.title, book_search.c.book_id).limit(page.limit + 1)

    async def _page(self, statement: Select[Any], page: PageRequest, key: Any) -> Page[BookHit]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        found = page_of(rows, page, key)
        return Page([_hit(r) for r in found.items], found.next_cursor)


def words_of(text: str) -> list[str]:
    """The words of a query: letters and digits only, so nothing reaches a full-text parser
    that it could read as syntax."""
    cleaned = "".join(c if c.isalnum() else " " for c in text.lower())
    return cleaned.split()[:10]


def rounded(rank: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.round(cast(rank, Numeric), 6)


def _title_key(row: Any) -> tuple[str, str]:
    return (row.title, str(row.book_id))


def _rank_key(row: Any) -> tuple[str, str]:
    return (str(row.rank), str(row.book_id))


def _title_after(after: tuple[Any, ...]) -> tuple[str, UUID]:
    try:
        return str(after[0]), UUID(str(after[1]))
    except ValueError:
        raise InvalidValue("query.cursor", "the cursor is not one this list issued") from None


def _rank_after(after: tuple[Any, ...]) -> tuple[Decimal, UUID]:
    try:
        return Decimal(str(after[0])), UUID(str(after[1]))
    except (InvalidOperation, ValueError):
        raise InvalidValue("query.cursor", "the cursor is not one this search issued") from None


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

"""Patron read models straight from SQL."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Row, bindparam, func, literal_column, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shelfmark.patrons.application.queries import PatronFilter, PatronView
from shelfmark.patrons.infrastructure.orm import patron_search_fts, patrons
from shelfmark.seedwork.infrastructure.reading import reading
from shelfmark.seedwork.pagination import Page, PageRequest, page_of

# Built once: the notifier reads a patron for every event it is sent, the API for each GET.
PATRON = select(patrons).where(patrons.c.id == bindparam("patron_id"))
#: What `q` is looked for in, as PostgreSQL's trigram index (migration 0007) names it.
SEARCHED: ColumnElement[str] = literal_column(
    "lower(first_name || ' ' || last_name || ' ' || email)"
)
#: FTS5's trigram tokenizer finds no term shorter than this.
TRIGRAM = 3
#: Above this many patrons holding a term, SQLite walks the name order instead of the index.
COMMON = 1_000


class SqlPatronReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, patron_id: UUID) -> PatronView | None:
        async with reading(self._engine) as connection:
            row = (await connection.execute(PATRON, {"patron_id": patron_id})).first()
        return _view(row) if row else None

    async def id_by_email(self, email: str) -> UUID | None:
        async with reading(self._engine) as connection:
            return await connection.scalar(
                select(patrons.c.id).where(patrons.c.email == email.strip().lower())
            )

    async def list(self, filters: PatronFilter, page: PageRequest) -> Page[PatronView]:
        order = (patrons.c.last_name, patrons.c.first_name, patrons.c.id)
        query = select(patrons).order_by(*order)
        if filters.category:
            query = query.where(patrons.c.category == filters.category)
        if filters.suspended is not None:
            suspended = patrons.c.suspended_reason.is_not(None)
            query = query.where(suspended if filters.suspended else ~suspended)
        if page.after is not None:
            query = query.where(tuple_(*order) > page.after)
        async with reading(self._engine) as connection:
            if filters.q:
                query = query.where(await self._holding(connection, filters.q.lower()))
            rows = (await connection.execute(query.limit(page.limit + 1))).all()
        views = [_view(r) for r in rows]
        return page_of(views, page, key=lambda p: (p.last_name, p.first_name, str(p.id)))

    async def _holding(self, connection: AsyncConnection, term: str) -> ColumnElement[bool]:
        """Patrons whose "first last email" holds `term`. PostgreSQL's planner chooses between
        its trigram index and the name order itself. On SQLite a term long enough for a
        trigram that few patrons hold is looked up in the FTS5 table; a common one ("example",
        a mail domain) walks the name order instead, where a page fills quickly, rather than
        gathering and sorting every match."""
        like = SEARCHED.contains(term, autoescape=True)
        if self._engine.dialect.name != "sqlite" or len(term) < TRIGRAM:
            return like
        phrase = '"' + term.replace('"', '""') + '"'
        matching = select(patron_search_fts.c.patron_id).where(
            literal_column(patron_search_fts.name).op("MATCH")(phrase)
        )
        held = await connection.scalar(
            select(func.count()).select_from(matching.limit(COMMON + 1).subquery())
        )
        return like if (held or 0) > COMMON else patrons.c.id.in_(matching)


def _view(row: Row[Any]) -> PatronView:
    return PatronView(
        id=row.id,
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        category=row.category,
        card_expires_on=row.card_expires_on,
        suspended_reason=row.suspended_reason,
        registered_at=row.registered_at,
    )

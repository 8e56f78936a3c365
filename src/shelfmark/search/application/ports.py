"""What the search use cases need, named by role."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol
from uuid import UUID

from shelfmark.search.application.queries import SearchPage, SearchQuery
from shelfmark.seedwork.application import Inbox, UnitOfWork
from shelfmark.seedwork.pagination import PageRequest


class BookIndex(Protocol):
    async def refresh(self, book_ids: Collection[UUID]) -> None:
        """Rewrites each book's entry from the current state of the catalogue and of lending:
        applying it twice, or out of order, leaves the same entry."""
        ...

    async def rebuild(self) -> int:
        """Every entry again from scratch; returns how many there are."""
        ...

    async def is_behind(self) -> bool: ...


class SearchUnitOfWork(UnitOfWork, Protocol):
    @property
    def index(self) -> BookIndex: ...

    @property
    def inbox(self) -> Inbox: ...


class BookSearch(Protocol):
    async def search(self, query: SearchQuery, page: PageRequest) -> SearchPage:
        """Ranked by relevance when `q` is given, else by title; keyset pages either way."""
        ...

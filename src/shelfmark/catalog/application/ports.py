"""What the catalog use cases need from the outside, named by role."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from shelfmark.catalog.application.queries import BookDetails, BookHeading
from shelfmark.catalog.domain.model import Book
from shelfmark.catalog.domain.values import Barcode, Isbn
from shelfmark.seedwork.application import UnitOfWork


class BookRepository(Protocol):
    async def get(self, book_id: UUID) -> Book | None: ...

    def add(self, book: Book) -> None: ...

    async def isbn_taken(self, isbn: Isbn) -> bool: ...

    async def barcode_taken(self, barcode: Barcode) -> bool: ...


class CatalogUnitOfWork(UnitOfWork, Protocol):
    @property
    def books(self) -> BookRepository: ...


class BookReader(Protocol):
    """Plain read models straight from storage; no aggregates on the read path."""

    async def get(self, book_id: UUID) -> BookDetails | None: ...
    async def heading(self, book_id: UUID) -> BookHeading | None: ...

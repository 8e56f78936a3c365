"""Catalog command handlers: load, call one domain method, commit."""

from __future__ import annotations

from shelfmark.catalog.application.commands import AddBook, AddCopy
from shelfmark.catalog.application.ports import CatalogUnitOfWork
from shelfmark.catalog.domain.errors import BarcodeTaken, BookNotFound, IsbnTaken
from shelfmark.catalog.domain.model import (
    DEFAULT_REPLACEMENT_COST,
    Book,
    BookId,
    CopyId,
    generated_barcode,
)
from shelfmark.catalog.domain.values import Barcode, Isbn
from shelfmark.seedwork.clock import Clock
from shelfmark.seedwork.money import Money


async def add_book(command: AddBook, uow: CatalogUnitOfWork, clock: Clock) -> BookId:
    isbn = Isbn.parse(command.isbn) if command.isbn is not None else None
    async with uow:
        if isbn and await uow.books.isbn_taken(isbn):
            raise IsbnTaken(f"a book with ISBN {isbn.value} already exists")
        book = Book.add(
            title=command.title,
            author=command.author,
            isbn=isbn,
            published_year=command.published_year,
            copies=command.copies,
            circulation=command.circulation,
            now=clock.now(),
            actor=command.actor,
        )
        uow.books.add(book)
        await uow.commit()
    return book.id


async def add_copy(command: AddCopy, uow: CatalogUnitOfWork, clock: Clock) -> CopyId:
    barcode = Barcode.parse(command.barcode) if command.barcode is not None else generated_barcode()
    cost = (
        Money.parse(command.replacement_cost, "replacement_cost")
        if command.replacement_cost is not None
        else DEFAULT_REPLACEMENT_COST
    )
    async with uow:
        book = await uow.books.get(command.book_id)
        if book is None:
            raise BookNotFound(f"no book {command.book_id}")
        if await uow.books.barcode_taken(barcode):
            raise BarcodeTaken(f"barcode {barcode.value} is already in use")
        copy = book.add_copy(barcode, command.circulation, cost, clock.now(), command.actor)
        await uow.commit()
    return copy.id

"""The Book aggregate: a title and its physical copies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import NewType

from shelfmark.catalog.domain.events import BookAdded, CopyAdded
from shelfmark.catalog.domain.values import Barcode, Circulation, Isbn
from shelfmark.seedwork.domain import AggregateRoot, InvalidValue
from shelfmark.seedwork.money import Money
from shelfmark.seedwork.text import collapsed_text

BookId = NewType("BookId", uuid.UUID)
CopyId = NewType("CopyId", uuid.UUID)

DEFAULT_REPLACEMENT_COST = Money(2500)
MAX_TITLE = 300
MAX_AUTHOR = 200
MAX_COPIES_AT_ONCE = 100


@dataclass
class Copy:
    """A physical item of a book."""

    id: CopyId
    barcode: Barcode
    circulation: Circulation
    replacement_cost: Money


def generated_barcode() -> Barcode:
    return Barcode("C" + uuid.uuid4().hex[:15].upper())


class Book(AggregateRoot):
    id: BookId

    def __init__(
        self,
        id: BookId,
        title: str,
        author: str,
        isbn: Isbn | None,
        published_year: int | None,
        copies: list[Copy],
    ) -> None:
        super().__init__()
        self.id = id
        self.title = title
        self.author = author
        self.isbn = isbn
        self.published_year = published_year
        self.copies = copies

    @classmethod
    def add(
        cls,
        *,
        title: str,
        author: str,
        isbn: Isbn | None,
        published_year: int | None,
        copies: int,
        circulation: Circulation,
        now: datetime,
        actor: str,
    ) -> Book:
        """A new title with `copies` copies of one circulation class (barcodes generated)."""
        if not 0 <= copies <= MAX_COPIES_AT_ONCE:
            raise InvalidValue("copies", f"copies must be between 0 and {MAX_COPIES_AT_ONCE}")
        if published_year is not None and not 1 <= published_year <= now.year + 1:
            raise InvalidValue("published_year", f"published_year must be 1..{now.year + 1}")
        book = cls(
            BookId(uuid.uuid4()),
            collapsed_text(title, "title", MAX_TITLE),
            collapsed_text(author, "author", MAX_AUTHOR),
            isbn,
            published_year,
            [],
        )
        book.record(
            BookAdded(
                aggregate_id=book.id,
                occurred_at=now,
                actor=actor,
                title=book.title,
                author=book.author,
                isbn=isbn.value if isbn else None,
                published_year=published_year,
            )
        )
        for _ in range(copies):
            book.add_copy(generated_barcode(), circulation, DEFAULT_REPLACEMENT_COST, now, actor)
        return book

    def add_copy(
        self,
        barcode: Barcode,
        circulation: Circulation,
        replacement_cost: Money,
        now: datetime,
        actor: str,
    ) -> Copy:
        if not replacement_cost.is_positive():
            raise InvalidValue("replacement_cost", "replacement_cost must be above zero")
        copy = Copy(CopyId(uuid.uuid4()), barcode, circulation, replacement_cost)
        self.copies.append(copy)
        self.record(
            CopyAdded(
                aggregate_id=self.id,
                occurred_at=now,
                actor=actor,
                copy_id=copy.id,
                barcode=barcode.value,
                circulation=circulation.value,
                replacement_cost=replacement_cost,
            )
        )
        return copy

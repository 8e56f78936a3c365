"""The book index as the `search` projection keeps it, on SQLite and on PostgreSQL: an event
applied twice leaves the same entry, a delivery out of order still ends right, and a rebuild
from the tables equals what the events built, after a history of every kind of event."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select, text, update

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.bootstrap.events import search_projection
from shelfmark.catalog.application.commands import AddBook, AddCopy
from shelfmark.catalog.domain.values import Circulation
from shelfmark.config import Settings
from shelfmark.lending.application.commands import (
    BorrowBook,
    CancelHold,
    PlaceHold,
    ReturnBook,
)
from shelfmark.patrons.application.commands import RegisterPatron
from shelfmark.search.application.queries import SearchQuery
from shelfmark.search.infrastructure.index import SqlSearchUnitOfWork, books
from shelfmark.search.infrastructure.orm import book_search
from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.infrastructure.envelopes import envelope_from_row
from shelfmark.seedwork.infrastructure.outbox import outbox
from shelfmark.seedwork.messaging import Envelope
from shelfmark.seedwork.pagination import PageRequest
from tests.support.clock import MutableClock
from tests.support.events import settle

Entry = dict[str, Any]


@pytest.fixture
async def shelfmark(engines: Engines, clock: MutableClock, tmp_path: Path) -> Shelfmark:
    return bootstrap(Settings(var_dir=tmp_path), clock=clock, engines=engines)


async def entries(shelfmark: Shelfmark, *, with_refreshed_at: bool = False) -> dict[UUID, Entry]:
    """Every index entry by book, as stored (`refreshed_at` left out unless asked for)."""
    async with shelfmark.engines.read.connect() as connection:
        rows = (await connection.execute(select(book_search))).mappings().all()
    left_out = set() if with_refreshed_at else {"refreshed_at"}
    return {row["book_id"]: {k: v for k, v in row.items() if k not in left_out} for row in rows}


async def pending(shelfmark: Shelfmark) -> list[Envelope]:
    """The events the relay has not published yet, in commit order."""
    query = select(outbox).where(outbox.c.published_at.is_(None)).order_by(outbox.c.position)
    async with shelfmark.engines.read.connect() as connection:
        return [envelope_from_row(row) for row in (await connection.execute(query)).all()]


async def deliver(shelfmark: Shelfmark, envelopes: list[Envelope]) -> None:
    projection = search_projection(shelfmark)
    for envelope in envelopes:
        if envelope.event_type in projection.event_types:
            await projection.handle(envelope)


async def rebuilt(shelfmark: Shelfmark) -> dict[UUID, Entry]:
    assert await shelfmark.rebuild_search_index() is not None
    return await entries(shelfmark)


async def live_counts(shelfmark: Shelfmark, book_id: UUID) -> tuple[int, int, int, int]:
    """(total, available, on the hold shelf, waiting) read from the catalogue and lending."""
    book = await shelfmark.readers.books.get(book_id)
    assert book is not None
    shelf = await shelfmark.readers.loans.shelf(book_id, (c.id for c in book.copies))
    return (
        len(book.copies),
        sum(1 for c in book.copies if c.id not in shelf.states),
        sum(1 for s in shelf.states.values() if s == "on_hold_shelf"),
        shelf.waiting,
    )


def counts(entry: Entry) -> tuple[int, int, int, int]:
    return (
        entry["copies_total"],
        entry["copies_available"],
        entry["copies_on_hold_shelf"],
        entry["holds_waiting"],
    )


async def assert_fts_in_step(shelfmark: Shelfmark) -> None:
    """SQLite: the FTS5 index agrees with the table it indexes (raises otherwise). With rank 1
    the check compares the index with the `book_search` rows, not only with itself."""
    if shelfmark.engines.write.dialect.name == "sqlite":
        async with shelfmark.engines.write.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO book_search_fts(book_search_fts, rank)"
                    " VALUES ('integrity-check', 1)"
                )
            )


async def patron(shelfmark: Shelfmark, name: str) -> UUID:
    command = RegisterPatron(first_name=name, last_name="Reader", email=f"{name}@example.org")
    return UUID(str(await shelfmark.execute(command)))


# --- applying twice -----------------------------------------------------------------------


async def test_an_event_applied_twice_leaves_the_same_entry(
    shelfmark: Shelfmark, clock: MutableClock
) -> None:
    book = await shelfmark.execute(AddBook(title="Dune", author="Frank Herbert", copies=2))
    reader = await patron(shelfmark, "ada")
    await shelfmark.execute(BorrowBook(book_id=book, patron_id=reader))
    envelopes = await pending(shelfmark)
    await deliver(shelfmark, envelopes)
    first = await entries(shelfmark, with_refreshed_at=True)
    assert counts(first[book]) == (2, 1, 0, 0)

    clock.advance(minutes=5)
    await deliver(shelfmark, envelopes)  # redelivered: the inbox absorbs it
    assert await entries(shelfmark, with_refreshed_at=True) == first

    # The same facts again under new event ids (as after the inbox forgot them): the entry
    # is rewritten, identical but for when.
    again = [
        Envelope(uuid4(), e.event_type, e.aggregate_id, e.occurred_at, e.payload, e.position)
        for e in envelopes
    ]
    await deliver(shelfmark, again)
    await deliver(shelfmark, again[-1:])
    second = await entries(shelfmark, with_refreshed_at=True)
    assert second[book]["refreshed_at"] == clock.now() != first[book]["refreshed_at"]
    assert await entries(shelfmark) == {
        book: {k: v for k, v in first[book].items() if k != "refreshed_at"}
    }


async def test_refreshing_an_entry_twice_in_one_transaction_keeps_one_entry(
    shelfmark: Shelfmark,
) -> None:
    book = await shelfmark.execute(AddBook(title="Dune", author="Frank Herbert"))
    async with SqlSearchUnitOfWork(shelfmark.engines.write, shelfmark.clock) as uow:
        await uow.index.refresh([book, book])
        await uow.index.refresh([book])
        await uow.commit()
    assert list(await entries(shelfmark)) == [book]
    await assert_fts_in_step(shelfmark)


async def test_a_refresh_gives_the_entry_its_books_description_as_it_is_now(
    shelfmark: Shelfmark,
) -> None:
    """The catalogue has no command that edits a book, yet an entry is always its book: a
    title changed in the table reaches the entry and the word index with the next refresh,
    and the old title's words no longer find it."""
    book = await shelfmark.execute(AddBook(title="Dune", author="Frank Herbert"))
    await deliver(shelfmark, await pending(shelfmark))
    async with shelfmark.engines.write.begin() as connection:
        await connection.execute(update(books).where(books.c.id == book).values(title="Emma"))
    await shelfmark.execute(AddCopy(book_id=book, actor="t"))
    await deliver(shelfmark, await pending(shelfmark))

    entry = (await entries(shelfmark))[book]
    assert (entry["title"], entry["search_text"]) == ("Emma", "emma frank herbert")
    assert counts(entry) == (2, 2, 0, 0)
    await assert_fts_in_step(shelfmark)
    for words, found in (("emma", [book]), ("emma herbert", [book]), ("dune", [])):
        hits = await shelfmark.readers.search.search(SearchQuery(q=words), PageRequest())
        assert [h.id for h in hits.items] == found, words


# --- out of order -------------------------------------------------------------------------


async def test_a_delivery_out_of_order_still_ends_with_the_right_counts(
    shelfmark: Shelfmark, clock: MutableClock
) -> None:
    book = await shelfmark.execute(AddBook(title="Dune", author="Frank Herbert", copies=1))
    ada, bob = await patron(shelfmark, "ada"), await patron(shelfmark, "bob")
    await shelfmark.execute(BorrowBook(book_id=book, patron_id=ada))
    clock.advance(days=1)
    await shelfmark.execute(PlaceHold(book_id=book, patron_id=bob))
    clock.advance(days=1)
    await shelfmark.execute(ReturnBook(book_id=book))  # the copy goes to bob's hold
    envelopes = await pending(shelfmark)
    kinds = [e.event_type for e in envelopes if e.event_type != "PatronRegistered"]
    assert kinds[:3] == ["BookAdded", "CopyAdded", "BookBorrowed"]
    assert {"HoldPlaced", "BookReturned", "HoldReadyForPickup"} <= set(kinds)
    final = (1, 0, 1, 0)  # one copy, on the hold shelf for bob; nobody waiting
    assert await live_counts(shelfmark, book) == final

    # The newest first: the entry is right at once, and the older events cannot undo it.
    await deliver(shelfmark, envelopes[::-1][:1])
    assert counts((await entries(shelfmark))[book]) == final
    borrowed = next(e for e in envelopes if e.event_type == "BookBorrowed")
    await deliver(shelfmark, [borrowed])
    assert counts((await entries(shelfmark))[book]) == final
    await deliver(shelfmark, envelopes[::-1])
    after_all = await entries(shelfmark)
    assert counts(after_all[book]) == final
    assert after_all == await rebuilt(shelfmark)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_any_delivery_order_ends_where_the_rebuild_does(
    shelfmark: Shelfmark, clock: MutableClock, seed: int
) -> None:
    books = [
        await shelfmark.execute(AddBook(title=f"Volume {n}", author="Ann Lee", copies=2))
        for n in range(3)
    ]
    ada, bob = await patron(shelfmark, "ada"), await patron(shelfmark, "bob")
    for book in books:
        await shelfmark.execute(BorrowBook(book_id=book, patron_id=ada))
    await shelfmark.execute(PlaceHold(book_id=books[0], patron_id=bob))
    await shelfmark.execute(ReturnBook(book_id=books[1]))
    await shelfmark.execute(AddCopy(book_id=books[2]))
    envelopes = await pending(shelfmark)
    random.Random(seed).shuffle(envelopes)
    await deliver(shelfmark, envelopes)
    incremental = await entries(shelfmark)
    assert [counts(incremental[b]) for b in books] == [
        (2, 0, 1, 0),  # bob's hold took the copy on the shelf at once
        (2, 2, 0, 0),
        (3, 2, 0, 0),
    ]
    assert incremental == await rebuilt(shelfmark)


# --- rebuild ------------------------------------------------------------------------------


async def test_rebuild_equals_the_incremental_index_after_a_mixed_history(
    shelfmark: Shelfmark, clock: MutableClock
) -> None:
    """Books (one without copies, one for reference only), copies added later, borrows,
    returns, and holds placed, made ready, cancelled waiting and cancelled when ready."""
    dune = await shelfmark.execute(
        AddBook(title="Dune", author="Frank Herbert", isbn="0-441-17271-7", published_year=1965)
    )
    emile = await shelfmark.execute(
        AddBook(title="Émile", author="Jean-Jacques Rousseau", copies=2)
    )
    atlas = await shelfmark.execute(
        AddBook(title="Atlas", author="Mercator", circulation=Circulation.REFERENCE)
    )
    ghost = await shelfmark.execute(AddBook(title="Not Yet", author="Nobody", copies=0))
    readers = [await patron(shelfmark, name) for name in ("ada", "bob", "cy", "di")]

    await shelfmark.execute(BorrowBook(book_id=dune, patron_id=readers[0]))
    clock.advance(hours=1)
    waiting = await shelfmark.execute(PlaceHold(book_id=dune, patron_id=readers[1]))
    cancelled_waiting = await shelfmark.execute(PlaceHold(book_id=dune, patron_id=readers[2]))
    await shelfmark.execute(CancelHold(cancelled_waiting))
    await shelfmark.execute(PlaceHold(book_id=dune, patron_id=readers[3]))
    clock.advance(days=2)
    await shelfmark.execute(ReturnBook(book_id=dune))  # ready for readers[1]
    await shelfmark.execute(CancelHold(waiting))  # ready -> cancelled: readers[3]'s turn
    await shelfmark.execute(AddCopy(book_id=dune))  # offered to nobody: no one waits

    await shelfmark.execute(BorrowBook(book_id=emile, patron_id=readers[0]))
    await shelfmark.execute(BorrowBook(book_id=emile, patron_id=readers[1]))
    await shelfmark.execute(PlaceHold(book_id=emile, patron_id=readers[2]))
    await shelfmark.execute(ReturnBook(book_id=emile, borrower_email="ada@example.org"))
    await shelfmark.execute(AddCopy(book_id=ghost))
    await settle(shelfmark)  # the relay delivers, in order, as in production

    incremental = await entries(shelfmark)
    assert set(incremental) == {dune, emile, atlas, ghost}
    for book, entry in incremental.items():
        assert counts(entry) == await live_counts(shelfmark, book), entry["title"]
    assert counts(incremental[dune]) == (2, 1, 1, 0)
    assert counts(incremental[emile]) == (2, 0, 1, 0)
    assert counts(incremental[atlas]) == (1, 1, 0, 0)
    assert counts(incremental[ghost]) == (1, 1, 0, 0)
    assert incremental[dune] | {"book_id": None} == {
        "book_id": None,
        "title": "Dune",
        "author": "Frank Herbert",
        "isbn": "9780441172719",
        "published_year": 1965,
        "search_text": "dune frank herbert",
        "copies_total": 2,
        "copies_available": 1,
        "copies_on_hold_shelf": 1,
        "holds_waiting": 0,
    }
    await assert_fts_in_step(shelfmark)

    assert await rebuilt(shelfmark) == incremental
    await assert_fts_in_step(shelfmark)
    hits = await shelfmark.readers.search.search(SearchQuery(q="emile"), PageRequest())
    assert [h.id for h in hits.items] == [emile]


# --- concurrency --------------------------------------------------------------------------


async def test_concurrent_refreshes_of_one_book_all_apply(shelfmark: Shelfmark) -> None:
    """Consumers in flight at once (RabbitMQ prefetch, several workers) refresh one book's
    entry concurrently: they take turns on it, nothing fails or dead-letters."""
    book_id = UUID(str(await shelfmark.execute(AddBook(title="Dune", author="Herbert", actor="t"))))
    for _ in range(8):
        await shelfmark.execute(AddCopy(book_id=book_id, actor="t"))
    projection = search_projection(shelfmark)
    events = [e for e in await pending(shelfmark) if e.event_type in projection.event_types]
    await asyncio.gather(*(projection.handle(e) for e in events))
    assert counts((await entries(shelfmark))[book_id]) == await live_counts(shelfmark, book_id)

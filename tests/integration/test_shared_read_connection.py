"""Readers share one connection inside `one_read_connection`, and open their own outside it,
on both databases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.catalog.application.commands import AddBook
from shelfmark.config import Settings
from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.infrastructure.reading import one_read_connection


@pytest.fixture
def shelfmark(engines: Engines, tmp_path: Path) -> Shelfmark:
    return bootstrap(Settings(var_dir=tmp_path), engines=engines)


def checkouts(engines: Engines) -> list[object]:
    """Every connection the read engine's pool hands out from now on."""
    seen: list[object] = []

    def note(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        seen.append(dbapi_connection)

    event.listen(engines.read.sync_engine, "checkout", note)
    return seen


async def test_the_book_details_take_one_connection_for_two_readers(
    shelfmark: Shelfmark, engines: Engines
) -> None:
    book_id = await shelfmark.execute(AddBook(title="Dune", author="Frank Herbert", copies=2))
    seen = checkouts(engines)

    async with one_read_connection(engines.read):
        book = await shelfmark.readers.books.get(book_id)
        assert book is not None
        shelf = await shelfmark.readers.loans.shelf(book_id, (c.id for c in book.copies))
    assert len(seen) == 1
    assert (len(book.copies), shelf.states, shelf.waiting) == (2, {}, 0)

    await shelfmark.readers.books.get(book_id)
    await shelfmark.readers.loans.shelf(book_id, [])
    assert len(seen) == 3  # outside the block, each reader its own


async def test_a_task_started_inside_the_block_opens_its_own(
    shelfmark: Shelfmark, engines: Engines
) -> None:
    """The block's end closes its connection whatever a task it started is doing, and one
    connection answers one statement at a time: such a task must not borrow it."""
    book_id = await shelfmark.execute(AddBook(title="Dune", author="Frank Herbert", copies=1))
    seen = checkouts(engines)

    async with one_read_connection(engines.read):
        await shelfmark.readers.books.get(book_id)
        assert await asyncio.create_task(shelfmark.readers.books.get(book_id)) is not None

    assert len(seen) == 2

"""`seed_database` end to end on a temporary SQLite file: counts, valid keys, a second run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from shelfmark.bootstrap import bootstrap
from shelfmark.catalog.domain.values import Barcode, Isbn
from shelfmark.catalog.infrastructure.orm import books, copies
from shelfmark.config import Settings
from shelfmark.entrypoints.seeding import seed_database
from shelfmark.patrons.infrastructure.orm import patrons


def _settings(directory: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{directory / 'seed.db'}")


async def _stored(settings: Settings) -> dict[str, list[Any]]:
    """Every seeded row, each table in a stable order."""
    shelfmark = bootstrap(settings)
    try:
        async with shelfmark.engines.read.connect() as connection:
            return {
                "books": list(await connection.execute(select(books).order_by(books.c.isbn))),
                "copies": list(await connection.execute(select(copies).order_by(copies.c.barcode))),
                "patrons": list(
                    await connection.execute(select(patrons).order_by(patrons.c.email))
                ),
            }
    finally:
        await shelfmark.dispose()


def _assert_valid(stored: dict[str, list[Any]], books_count: int, patrons_count: int) -> None:
    assert len(stored["books"]) == books_count
    assert len(stored["patrons"]) == patrons_count
    copies_per_book = Counter(copy.book_id for copy in stored["copies"])
    assert set(copies_per_book) == {book.id for book in stored["books"]}
    assert set(copies_per_book.values()) <= {1, 2, 3}
    assert all(Isbn.parse(book.isbn).value == book.isbn for book in stored["books"])
    assert all(Barcode.parse(copy.barcode) for copy in stored["copies"])
    assert all(1900 <= book.published_year <= 2025 for book in stored["books"])
    emails = [patron.email for patron in stored["patrons"]]
    assert len(set(emails)) == len(emails)
    assert all(email == email.lower() for email in emails)
    assert {row.version for row in stored["books"] + stored["patrons"]} == {1}
    for patron in stored["patrons"]:
        registered = patron.registered_at.date()
        assert patron.registered_at.tzinfo is not None
        assert patron.card_expires_on.year == registered.year + 3
        assert (patron.card_expires_on - registered).days in {365 * 3, 365 * 3 + 1}


async def test_seed_loads_valid_rows_and_a_second_run_adds_more(tmp_path: Path) -> None:
    settings = _settings(tmp_path)

    await seed_database(settings, books=300, patrons=50, random_seed=7)
    _assert_valid(await _stored(settings), books_count=300, patrons_count=50)

    await seed_database(settings, books=300, patrons=50, random_seed=7)
    _assert_valid(await _stored(settings), books_count=600, patrons_count=100)


async def test_the_same_seed_gives_the_same_data(tmp_path: Path) -> None:
    runs = []
    for name in ("first", "second"):
        settings = _settings(tmp_path / name)
        await seed_database(settings, books=40, patrons=20, random_seed=3)
        stored = await _stored(settings)
        runs.append(
            (
                [(b.isbn, b.title, b.author, b.published_year) for b in stored["books"]],
                [(c.barcode, c.circulation, c.replacement_cost_cents) for c in stored["copies"]],
                [(p.email, p.first_name, p.last_name, p.category) for p in stored["patrons"]],
            )
        )
    assert runs[0] == runs[1]

"""`shelfmark seed`: loads realistic fake books, copies and patrons in bulk.

This is a bulk loader, like a restore: rows go straight into the tables with SQLAlchemy Core
executemany, a few thousand to a transaction, not through the command handlers. Going one
aggregate per unit of work would be orders of magnitude slower, and seeded rows are not
events that happened, so no outbox rows are written and subscribers see nothing. The rows
keep the aggregates' invariants (valid ISBN-13s and barcodes, lower-case e-mails, version 1,
a card valid for the policy's membership years from the registration date).

Unique keys live in namespaces of their own and are numbered from the table's row count, so
a second run adds rows beside the first without collisions: ISBNs in the (unissued) 979-9
block, barcodes `SM` and twelve digits, e-mails at the example.* domains. Runs must not be
concurrent. The same seed gives the same data, except ids (uuid4, as the aggregates make
them) and dates, which count back from today.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.bootstrap import bootstrap, migrations
from shelfmark.catalog.infrastructure import orm as catalog_tables
from shelfmark.config import Settings
from shelfmark.patrons.domain.model import Membership
from shelfmark.patrons.infrastructure import orm as patron_tables

BATCH = 5_000
ISBN_BLOCK = "9799"  # 979-9: no ISBN agency issued from it when this was written
ISBN_SERIALS = 10**8
ISBN_SCRAMBLE = 7_654_321  # coprime with ISBN_SERIALS, so serial -> serial * k is one-to-one

FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Anna", "Ben", "Carlos", "Chloe", "Daniel", "Elena", "Emil",
    "Fatima", "Grace", "Hiro", "Ines", "Isaac", "Jamal", "Julia", "Kofi", "Lena", "Liam",
    "Maria", "Mei", "Nadia", "Noah", "Olga", "Omar", "Priya", "Rosa", "Sam", "Sofia",
    "Tomas", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Bauer", "Chen", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen",
    "Ito", "Jensen", "Khan", "Kowalski", "Lopez", "Moreau", "Meyer", "Nakamura", "Novak",
    "Okafor", "Olsen", "Patel", "Quinn", "Rossi", "Santos", "Schmidt", "Singh", "Tanaka",
    "Urban", "Varga", "Weber", "Wright", "Yilmaz", "Zhang",
)  # fmt: skip
ADJECTIVES = (
    "Silent", "Hidden", "Last", "Golden", "Broken", "Distant", "Burning", "Quiet", "Lost",
    "Secret", "Winter", "Crimson", "Endless", "Forgotten", "Northern", "Invisible",
)  # fmt: skip
NOUNS = (
    "River", "Garden", "Library", "Mountain", "Empire", "Letter", "Harbor", "Machine",
    "Orchard", "Lighthouse", "Kingdom", "Archive", "Voyage", "Mirror", "Island", "Clock",
)  # fmt: skip
PLACES = (
    "Lisbon", "the North", "Kyoto", "the Delta", "Prague", "the Steppe", "Cairo", "Avalon",
    "the Valley", "Samarkand", "the Coast", "Vienna",
)  # fmt: skip
TITLE_PATTERNS = (
    "The {adjective} {noun}",
    "The {noun} of {place}",
    "A {noun} in {place}",
    "The {noun} and the {other}",
    "{adjective} {noun}",
    "{place}: A History",
    "Notes on the {adjective} {noun}",
)
EMAIL_DOMAINS = ("example.org", "example.com", "example.net")


async def seed_database(settings: Settings, *, books: int, patrons: int, random_seed: int) -> None:
    """Migrates, then adds `books` books (1-3 copies each) and `patrons` patrons, and rebuilds
    the search index (rows written straight to the tables carry no events)."""
    started = perf_counter()
    rng = random.Random(random_seed)  # noqa: S311 (fake data, not secrets)
    shelfmark = bootstrap(settings)
    try:
        engine = shelfmark.engines.write
        await migrations.upgrade(engine)
        library = shelfmark.policy.library
        membership = Membership(library.membership_years, ZoneInfo(library.timezone))
        today = datetime.combine(shelfmark.clock.now().astimezone(UTC).date(), time(), UTC)
        with typer.progressbar(length=books + patrons, label="Seeding") as bar:
            copy_count = await _seed_books(engine, rng, books, bar.update)
            await _seed_patrons(engine, rng, patrons, membership, today, bar.update)
        await shelfmark.rebuild_search_index()  # the rows above came without events
    finally:
        await shelfmark.dispose()
    elapsed = perf_counter() - started
    typer.echo(
        f"seeded {books} books, {copy_count} copies and {patrons} patrons "
        f"({books + copy_count + patrons} rows) in {elapsed:.1f}s"
    )


async def _seed_books(
    engine: AsyncEngine, rng: random.Random, count: int, advance: Callable[[int], None]
) -> int:
    """Adds `count` books with their copies, each batch in one transaction; returns copies."""
    first_book, first_copy = await _row_counts(engine, catalog_tables.books, catalog_tables.copies)
    next_copy = first_copy
    for start in range(first_book, first_book + count, BATCH):
        book_rows: list[dict[str, Any]] = []
        copy_rows: list[dict[str, Any]] = []
        for serial in range(start, min(start + BATCH, first_book + count)):
            book_rows.append(_book(rng, serial))
            for _ in range(rng.choices((1, 2, 3), weights=(6, 3, 1))[0]):
                copy_rows.append(_copy(rng, book_rows[-1]["id"], next_copy))
                next_copy += 1
        async with engine.begin() as connection:
            await connection.execute(catalog_tables.books.insert(), book_rows)
            await connection.execute(catalog_tables.copies.insert(), copy_rows)
        advance(len(book_rows))
    return next_copy - first_copy


async def _seed_patrons(
    engine: AsyncEngine,
    rng: random.Random,
    count: int,
    membership: Membership,
    today: datetime,
    advance: Callable[[int], None],
) -> None:
    (first,) = await _row_counts(engine, patron_tables.patrons)
    for start in range(first, first + count, BATCH):
        rows = [
            _patron(rng, serial, membership, today)
            for serial in range(start, min(start + BATCH, first + count))
        ]
        async with engine.begin() as connection:
            await connection.execute(patron_tables.patrons.insert(), rows)
        advance(len(rows))


async def _row_counts(engine: AsyncEngine, *tables: Table) -> tuple[int, ...]:
    async with engine.connect() as connection:
        return tuple(
            [await connection.scalar(select(func.count()).select_from(t)) or 0 for t in tables]
        )


def _book(rng: random.Random, serial: int) -> dict[str, Any]:
    noun, other = rng.sample(NOUNS, 2)
    title = rng.choice(TITLE_PATTERNS).format(
        adjective=rng.choice(ADJECTIVES), noun=noun, other=other, place=rng.choice(PLACES)
    )
    initial = f" {rng.choice(LAST_NAMES)[0]}." if rng.random() < 0.2 else ""
    return {
        "id": uuid.uuid4(),
        "isbn": _isbn(serial),
        "title": title,
        "author": f"{rng.choice(FIRST_NAMES)}{initial} {rng.choice(LAST_NAMES)}",
        "published_year": round(rng.triangular(1900, 2025, 2012)),
        "version": 1,
    }


def _copy(rng: random.Random, book_id: uuid.UUID, serial: int) -> dict[str, Any]:
    circulation = rng.choices(("circulating", "reference", "restricted"), weights=(90, 6, 4))[0]
    return {
        "id": uuid.uuid4(),
        "book_id": book_id,
        "barcode": f"SM{serial:012d}",
        "circulation": circulation,
        "replacement_cost_cents": rng.choice((1500, 2000, 2500, 2500, 2500, 3500, 4500)),
    }


def _patron(
    rng: random.Random, serial: int, membership: Membership, today: datetime
) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    registered_at = today - timedelta(seconds=rng.randrange(2 * 365 * 24 * 3600))
    return {
        "id": uuid.uuid4(),
        "first_name": first,
        "last_name": last,
        "email": f"{first}.{last}{serial}@{rng.choice(EMAIL_DOMAINS)}".lower(),
        "category": rng.choices(("regular", "premium", "researcher"), weights=(85, 10, 5))[0],
        "card_expires_on": membership.extended(membership.today(registered_at)),
        "suspended_reason": None,
        "registered_at": registered_at,
        "version": 1,
    }


def _isbn(serial: int) -> str:
    """The serial-th ISBN-13 of the seeding block; the serial is scrambled to look real."""
    first12 = f"{ISBN_BLOCK}{serial * ISBN_SCRAMBLE % ISBN_SERIALS:08d}"
    total = sum(int(digit) * (3 if i % 2 else 1) for i, digit in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)

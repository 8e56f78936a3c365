"""The desk's patron search (`GET /patrons?q=`) on SQLite and on PostgreSQL: the term is found
anywhere in "first last email", case aside, through the index migration 0007 adds, and a term
too short for a trigram still finds what it holds."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import text

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.config import Settings
from shelfmark.patrons.application.commands import RegisterPatron, SuspendPatron
from shelfmark.patrons.application.queries import PatronFilter
from shelfmark.patrons.infrastructure import readers
from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.pagination import PageRequest, decode_cursor
from tests.support.clock import MutableClock

PATRONS = [
    ("Ana", "Gardener", "ana.g@example.org"),
    ("Bea", "Novak", "bea@river.example.net"),
    ("Caio", "Odegaard", "caio@example.org"),
    ("Dee", "Ng", "dee_ng@example.org"),
    ("Eli", "Stone", "eli%50@example.org"),
]


async def registered(app: Shelfmark) -> Shelfmark:
    for first, last, email in PATRONS:
        await app.execute(RegisterPatron(first_name=first, last_name=last, email=email))
    return app


@pytest.fixture
async def shelfmark(engines: Engines, clock: MutableClock, tmp_path: Path) -> Shelfmark:
    return await registered(bootstrap(Settings(var_dir=tmp_path), clock=clock, engines=engines))


async def found(shelfmark: Shelfmark, q: str, suspended: bool | None = None) -> list[str]:
    page = await shelfmark.readers.patrons.list(
        PatronFilter(q=q, suspended=suspended), PageRequest()
    )
    return [p.last_name for p in page.items]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("GARDEN", ["Gardener"]),  # in a last name, any case
        ("river", ["Novak"]),  # in an e-mail
        ("bea novak", ["Novak"]),  # across first and last name
        ("example.org", ["Gardener", "Ng", "Odegaard", "Stone"]),  # in name order
        ("ng", ["Ng"]),  # shorter than a trigram: still found
        ("_n", ["Ng"]),  # shorter still, and LIKE's wildcard a plain character there too
        ("_ng", ["Ng"]),  # LIKE's wildcards are plain characters
        ("%50", ["Stone"]),
        ('"ea', []),  # an FTS5 quote is a plain character too
        ("zzz", []),
    ],
)
async def test_a_term_is_found_anywhere_in_name_and_email(
    shelfmark: Shelfmark, q: str, expected: list[str]
) -> None:
    assert await found(shelfmark, q) == expected


async def test_search_pages_in_name_order_and_combines_with_the_filters(
    shelfmark: Shelfmark,
) -> None:
    reader = shelfmark.readers.patrons
    first = await reader.list(PatronFilter(q="example"), PageRequest(limit=3))
    assert [p.last_name for p in first.items] == ["Gardener", "Ng", "Novak"]
    assert first.next_cursor is not None
    after = decode_cursor(first.next_cursor, str, str, UUID)
    rest = await reader.list(PatronFilter(q="example"), PageRequest(limit=3, after=after))
    assert [p.last_name for p in rest.items] == ["Odegaard", "Stone"]

    stone = (await reader.list(PatronFilter(q="stone"), PageRequest())).items[0]
    await shelfmark.execute(SuspendPatron(patron_id=stone.id, reason="lost card"))
    assert await found(shelfmark, "example.org", suspended=True) == ["Stone"]
    assert await found(shelfmark, "stone", suspended=False) == []


async def test_a_patron_renamed_or_deleted_in_the_table_is_found_as_the_table_says(
    shelfmark: Shelfmark, engines: Engines
) -> None:
    """No command renames or deletes a patron today; the index follows the table regardless."""
    async with engines.write.begin() as connection:
        await connection.execute(
            text("UPDATE patrons SET last_name = 'Brook' WHERE last_name = 'Stone'")
        )
        await connection.execute(text("DELETE FROM patrons WHERE last_name = 'Novak'"))
    assert await found(shelfmark, "brook") == ["Brook"]
    assert await found(shelfmark, "stone") == []
    assert await found(shelfmark, "river") == []


async def test_sqlite_walks_the_name_order_for_a_term_many_patrons_hold(
    sqlite_engines: Engines, clock: MutableClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above COMMON holders the FTS5 table is not read (emptied here, the term is still found);
    below it, it is."""
    shelfmark = await registered(
        bootstrap(Settings(var_dir=tmp_path), clock=clock, engines=sqlite_engines)
    )
    monkeypatch.setattr(readers, "COMMON", 3)
    async with sqlite_engines.write.begin() as connection:
        await connection.execute(text("DELETE FROM patron_search_fts"))
    assert await found(shelfmark, "example") == []  # nothing holds it in the FTS table now

    async with sqlite_engines.write.begin() as connection:
        await connection.execute(
            text("INSERT INTO patron_search_fts(patron_id, searched) SELECT id, email FROM patrons")
        )
        await connection.execute(text("DELETE FROM patron_search_fts WHERE searched LIKE 'ana%'"))
    assert await found(shelfmark, "example") == ["Gardener", "Ng", "Novak", "Odegaard", "Stone"]
    assert await found(shelfmark, "ana.g") == [], "a rare term is read from the FTS table"


async def test_sqlite_finds_a_trigram_term_through_its_index(
    sqlite_engines: Engines, clock: MutableClock, tmp_path: Path
) -> None:
    """Emptied behind the triggers' back, the FTS5 table finds nothing for a long term: the
    search reads it rather than the table. A short term still reads the table."""
    app = bootstrap(Settings(var_dir=tmp_path), clock=clock, engines=sqlite_engines)
    await app.execute(RegisterPatron(first_name="Dee", last_name="Ng", email="dee@example.org"))
    assert await found(app, "dee") == ["Ng"]
    async with sqlite_engines.write.begin() as connection:
        await connection.execute(text("DELETE FROM patron_search_fts"))
    assert await found(app, "dee") == []
    assert await found(app, "ng") == ["Ng"]


async def test_postgresql_has_the_trigram_index_over_what_is_searched(
    postgres_engines: Engines,
) -> None:
    async with postgres_engines.read.connect() as connection:
        definition = await connection.scalar(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_patrons_search_trigrams'")
        )
    assert definition is not None
    assert "gin_trgm_ops" in definition and "lower(" in definition

"""The read cache end to end, in process and in the real Redis, on both databases: a second read
is a hit; the desk sees its own change at once (its commit deleted the keys); a change made by
another process is seen once its events reached this one (`settle`), and never stale after."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shelfmark.access.application.handlers import Principal
from shelfmark.access.domain.model import Role
from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.config import Settings
from shelfmark.entrypoints.http.app import create_app
from shelfmark.search.infrastructure import postgres as postgres_search
from shelfmark.search.infrastructure import sqlite as sqlite_search
from shelfmark.seedwork.infrastructure.database import Engines, create_engines
from shelfmark.seedwork.infrastructure.replica import ReplicaEngine
from tests.e2e.conftest import Desk
from tests.support.auth import as_librarian, bearer, librarian
from tests.support.clock import MutableClock
from tests.support.databases import sqlite_url
from tests.support.events import settle
from tests.support.redis_cache import REDIS_URL, private_prefix

BOOK = "/books/{book_id}"
PATRON = "/patrons/{patron_id}"
BOOKS = "/books"


@pytest.fixture(params=["memory", "redis"])
async def shelfmark(
    request: pytest.FixtureRequest, engines: Engines, clock: MutableClock, tmp_path: Path
) -> AsyncIterator[Shelfmark]:
    """This process, with its read cache in process or in Redis (the e2e fixtures use it)."""
    if request.param == "memory":
        yield bootstrap(Settings(var_dir=tmp_path), clock=clock, engines=engines)
        return
    async with private_prefix() as prefix:
        settings = Settings(var_dir=tmp_path, cache_url=REDIS_URL, cache_prefix=prefix)
        app = bootstrap(settings, clock=clock, engines=engines)
        yield app
        await app.cache.aclose()


@pytest.fixture
async def elsewhere(
    engines: Engines, clock: MutableClock, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The desk of another process on the same database, whose commits cannot reach this
    process's cache directly: only their events, once relayed, can."""
    other = bootstrap(Settings(var_dir=tmp_path), clock=clock, engines=engines)
    transport = httpx.ASGITransport(app=create_app(shelfmark=other), raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://elsewhere.test", auth=as_librarian(other)
    ) as client:
        yield client


def hits(app: Shelfmark, route: str) -> float:
    return (
        app.metrics.registry.get_sample_value("shelfmark_cache_hits_total", {"route": route}) or 0.0
    )


def misses(app: Shelfmark, route: str) -> float:
    value = app.metrics.registry.get_sample_value("shelfmark_cache_misses_total", {"route": route})
    return value or 0.0


async def ok(response: Any, status: int = 200) -> dict[str, Any]:
    response = await response
    assert response.status_code == status, response.text
    return dict(response.json())


def statuses(book: dict[str, Any]) -> list[str]:
    return [c["status"] for c in book["copies"]]


def summary(book: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in book.items() if k != "copies"}


async def titles(api: httpx.AsyncClient, q: str) -> list[str]:
    return [b["title"] for b in (await ok(api.get("/books", params={"q": q})))["items"]]


def listed(page: dict[str, Any], book_id: str) -> dict[str, Any] | None:
    return next((b for b in page["items"] if b["id"] == book_id), None)


async def test_a_book_is_read_from_the_cache_and_follows_every_change(
    shelfmark: Shelfmark, api: httpx.AsyncClient, desk: Desk, elsewhere: httpx.AsyncClient
) -> None:
    book, patron = await desk.book(), await desk.patron()
    url = f"/books/{book['id']}"

    first = await api.get(url)
    second = await api.get(url)

    assert second.json() == first.json() == book
    assert second.headers["ETag"] == first.headers["ETag"]
    assert (misses(shelfmark, BOOK), hits(shelfmark, BOOK)) == (1, 1)
    not_modified = await api.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert not_modified.status_code == 304
    assert hits(shelfmark, BOOK) == 2

    await ok(api.post(f"{url}/borrow", json={"patron_id": patron["id"]}), 201)
    assert statuses(await ok(api.get(url))) == ["on_loan"], "the desk sees its own borrow"
    await settle(shelfmark)  # from here on only the other process's events can invalidate
    assert statuses(await ok(api.get(url))) == ["on_loan"]

    await ok(elsewhere.post(f"{url}/return"))
    assert statuses(await ok(api.get(url))) == ["on_loan"], "its event has not arrived yet"
    await settle(shelfmark)
    for _ in range(3):
        assert statuses(await ok(api.get(url))) == ["available"]
    assert hits(shelfmark, BOOK) >= 4


async def test_a_new_copy_added_elsewhere_shows_once_settled(
    shelfmark: Shelfmark, api: httpx.AsyncClient, desk: Desk, elsewhere: httpx.AsyncClient
) -> None:
    book = await desk.book()
    url = f"/books/{book['id']}"
    await settle(shelfmark)
    await ok(api.get(url))

    await ok(elsewhere.post(f"{url}/copies", json={}), 201)
    await settle(shelfmark)

    fresh = await ok(api.get(url))
    assert (fresh["copies_total"], len(fresh["copies"])) == (2, 2)


async def test_a_patron_is_read_from_the_cache_and_follows_every_change(
    shelfmark: Shelfmark, api: httpx.AsyncClient, desk: Desk, elsewhere: httpx.AsyncClient
) -> None:
    patron, book = await desk.patron(), await desk.book()
    url = f"/patrons/{patron['id']}"
    await ok(api.get(url))
    assert (await ok(api.get(url)))["is_suspended"] is False
    assert (misses(shelfmark, PATRON), hits(shelfmark, PATRON)) == (1, 1)

    await ok(api.post(f"{url}/suspend", json={"reason": "lost card"}))
    assert (await ok(api.get(url)))["is_suspended"] is True, "the desk sees its own change"
    await settle(shelfmark)  # from here on only the other process's events can invalidate
    assert (await ok(api.get(url)))["is_suspended"] is True

    await ok(elsewhere.post(f"{url}/reinstate"))
    assert (await ok(api.get(url)))["is_suspended"] is True, "its event has not arrived yet"
    await ok(elsewhere.post(f"/books/{book['id']}/borrow", json={"patron_id": patron["id"]}), 201)
    await settle(shelfmark)
    for _ in range(3):
        fresh = await ok(api.get(url))
        assert fresh["is_suspended"] is False
        assert [loan["book_id"] for loan in fresh["loans"]] == [book["id"]]


async def test_a_holders_place_in_the_queue_follows_other_patrons_holds(
    shelfmark: Shelfmark, api: httpx.AsyncClient, desk: Desk, elsewhere: httpx.AsyncClient
) -> None:
    book = await desk.book(copies=0)
    first, second = await desk.patron("ada@example.org"), await desk.patron("bob@example.org")
    hold = await ok(api.post(f"/books/{book['id']}/holds", json={"patron_id": first["id"]}), 201)
    await ok(api.post(f"/books/{book['id']}/holds", json={"patron_id": second["id"]}), 201)
    await settle(shelfmark)
    url = f"/patrons/{second['id']}"
    assert [h["position"] for h in (await ok(api.get(url)))["holds"]] == [2]

    await ok(elsewhere.post(f"/holds/{hold['id']}/cancel"))
    await settle(shelfmark)

    assert [h["position"] for h in (await ok(api.get(url)))["holds"]] == [1]


async def test_the_first_page_of_books_follows_borrows_and_new_books_once_settled(
    shelfmark: Shelfmark, api: httpx.AsyncClient, desk: Desk, elsewhere: httpx.AsyncClient
) -> None:
    dune, emma = await desk.book(title="Dune"), await desk.book(title="Emma")
    patron = await desk.patron()
    await settle(shelfmark)
    page = await ok(api.get("/books"))
    available = await ok(api.get("/books", params={"available": "true"}))
    assert await ok(api.get("/books")) == page
    assert hits(shelfmark, BOOKS) == 1
    assert listed(page, dune["id"]) is not None and listed(available, dune["id"]) is not None

    await ok(elsewhere.post(f"/books/{dune['id']}/borrow", json={"patron_id": patron["id"]}), 201)
    await settle(shelfmark)

    listing = await ok(api.get("/books"))
    assert listed(listing, dune["id"]) == summary(dune) | {
        "copies_available": 0,
        "is_borrowed": True,
        "status": "borrowed",
    }
    assert listed(listing, emma["id"]) == summary(emma)
    assert listed(await ok(api.get("/books", params={"available": "true"})), dune["id"]) is None

    await ok(elsewhere.post(f"/books/{dune['id']}/return"))
    await settle(shelfmark)
    assert listed(await ok(api.get("/books", params={"available": "true"})), dune["id"])
    assert [b["title"] for b in (await ok(api.get("/books")))["items"]] == ["Dune", "Emma"]

    await ok(elsewhere.post("/books", json={"title": "Anna Karenina", "author": "Tolstoy"}), 201)
    await settle(shelfmark)
    titles = [b["title"] for b in (await ok(api.get("/books")))["items"]]
    assert titles == ["Anna Karenina", "Dune", "Emma"]


async def test_a_new_book_drops_the_search_pages_it_may_enter_and_no_other(
    shelfmark: Shelfmark,
    api: httpx.AsyncClient,
    desk: Desk,
    elsewhere: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every word counts as common here, so pages come in popularity order: an order a new book
    changes only if it holds the words."""
    monkeypatch.setattr(sqlite_search, "RANKED_AT_MOST", 0)
    monkeypatch.setattr(postgres_search, "RANKED_AT_MOST", 0)
    await desk.book(title="Dune", author="Frank Herbert")
    await desk.book(title="Emma", author="Jane Austen")
    await settle(shelfmark)

    assert await titles(api, "dune") == ["Dune"]
    assert await titles(api, "austen") == ["Emma"]
    assert await titles(api, "garden") == []
    misses_before = misses(shelfmark, BOOKS)

    await ok(elsewhere.post("/books", json={"title": "Dunes", "author": "Ann Gardener"}), 201)
    await settle(shelfmark)

    assert await titles(api, "austen") == ["Emma"]  # still cached: the book cannot enter it
    assert misses(shelfmark, BOOKS) == misses_before
    assert sorted(await titles(api, "dune")) == ["Dune", "Dunes"]  # "dunes" starts "dune"
    assert await titles(api, "garden") == ["Dunes"]  # found nothing before: any book counts
    assert misses(shelfmark, BOOKS) == misses_before + 2


async def test_on_sqlite_a_ranked_page_goes_with_any_new_book(
    shelfmark: Shelfmark, api: httpx.AsyncClient, desk: Desk, elsewhere: httpx.AsyncClient
) -> None:
    """bm25 weighs a word by how many entries hold it, so any new book moves every rank (and a
    cached page's cursor with them); PostgreSQL's ts_rank looks at the entry alone."""
    for title in ("Emma", "Emma and Mr Knightley", "Persuasion"):
        await desk.book(title=title, author="Jane Austen")
    await settle(shelfmark)
    assert len(await titles(api, "austen")) == 3
    misses_before = misses(shelfmark, BOOKS)

    await ok(elsewhere.post("/books", json={"title": "Dune", "author": "Frank Herbert"}), 201)
    await settle(shelfmark)

    assert len(await titles(api, "austen")) == 3
    on_sqlite = shelfmark.engines.read.dialect.name == "sqlite"
    assert misses(shelfmark, BOOKS) == misses_before + (1 if on_sqlite else 0)


async def test_a_later_page_is_never_cached(
    shelfmark: Shelfmark, api: httpx.AsyncClient, desk: Desk
) -> None:
    for title in ("A", "B", "C"):
        await desk.book(title=title)
    await settle(shelfmark)
    cursor = (await ok(api.get("/books", params={"limit": 2})))["next_cursor"]

    for _ in range(2):
        later = await api.get("/books", params={"limit": 2, "cursor": cursor})
        assert [b["title"] for b in later.json()["items"]] == ["C"]

    assert (misses(shelfmark, BOOKS), hits(shelfmark, BOOKS)) == (1, 0)


async def test_the_access_rule_runs_before_a_patron_is_served_from_the_cache(
    shelfmark: Shelfmark, api: httpx.AsyncClient, anonymous: httpx.AsyncClient, desk: Desk
) -> None:
    ada, bob = await desk.patron("ada@example.org"), await desk.patron("bob@example.org")
    url = f"/patrons/{ada['id']}"
    cached = await ok(api.get(url))

    def as_patron(patron: dict[str, Any]) -> dict[str, str]:
        principal = Principal(uuid.uuid4(), patron["email"], Role.PATRON, uuid.UUID(patron["id"]))
        return bearer(shelfmark, principal)

    assert (await anonymous.get(url)).status_code == 401
    assert (await anonymous.get(url, headers=as_patron(bob))).status_code == 404
    own = await anonymous.get(url, headers=as_patron(ada))
    assert (own.status_code, own.json()) == (200, cached)
    assert hits(shelfmark, PATRON) == 1


async def test_a_fill_reads_the_primary_even_when_the_request_may_read_the_replica(
    engines: Engines, clock: MutableClock, tmp_path: Path
) -> None:
    """An anonymous reader (no writes of its own) is sent to the replica, here one that cannot
    even be reached: the cache still fills from the primary, so an entry is never older than
    a commit that deleted it."""
    unreachable = create_engines(sqlite_url(tmp_path / "no-such-dir" / "replica.db")).read
    replicated = Engines(write=engines.write, read=ReplicaEngine(unreachable, engines.read))
    app = bootstrap(Settings(var_dir=tmp_path), clock=clock, engines=replicated)
    transport = httpx.ASGITransport(app=create_app(shelfmark=app), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://shelfmark.test") as client:
        book = await ok(
            client.post(
                "/books", json={"title": "Dune", "author": "Frank Herbert"}, headers=librarian(app)
            ),
            201,
        )
        await settle(app)

        assert await ok(client.get(f"/books/{book['id']}")) == book
        assert [b["id"] for b in (await ok(client.get("/books")))["items"]] == [book["id"]]
    await unreachable.dispose()

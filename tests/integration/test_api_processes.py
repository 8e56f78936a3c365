"""Several API processes of one embedded server (`api_processes` > 1), as two applications on
one SQLite file: each in-process cache follows what the other changed once it is published,
and the background work runs in one of them at a time, the other taking it over."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.bootstrap.cache import FIRST_PAGES_BY_AVAILABILITY, book_key
from shelfmark.catalog.application.commands import AddBook
from shelfmark.config import Settings
from shelfmark.entrypoints.workers import background
from shelfmark.entrypoints.workers.background import Background, embedded_lease, embedded_roles
from shelfmark.entrypoints.workers.follow import CacheFollower
from shelfmark.lending.application.commands import BorrowBook
from shelfmark.patrons.application.commands import RegisterPatron
from shelfmark.seedwork.infrastructure.host_lease import HostLease
from tests.support.clock import MutableClock
from tests.support.databases import sqlite_url

TTL = 600.0
#: Only there so that something that never happens fails the test instead of hanging it.
DEADLINE_SECONDS = 10.0


@pytest.fixture
async def peers(
    sqlite_template: Path, tmp_path: Path, clock: MutableClock
) -> AsyncIterator[tuple[Shelfmark, Shelfmark]]:
    path = tmp_path / "library.db"
    shutil.copyfile(sqlite_template, path)
    settings = Settings(
        database_url=sqlite_url(path),
        var_dir=tmp_path / "var",
        api_processes=2,
        relay_poll_seconds=30,  # a peer's commit does not wake the relay: it must look itself
        scheduler_enabled=False,
    )
    first, second = bootstrap(settings, clock=clock), bootstrap(settings, clock=clock)
    try:
        yield first, second
    finally:
        await first.dispose()
        await second.dispose()


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await condition():
        assert time.monotonic() < deadline, "not within the deadline"
        await asyncio.sleep(0.01)  # polling, not a timing assertion


async def test_a_process_cache_forgets_what_a_peer_changed_once_it_is_published(
    peers: tuple[Shelfmark, Shelfmark], clock: MutableClock
) -> None:
    writer, reader = peers
    book = await writer.execute(AddBook(title="Dune", author="Frank Herbert"))
    patron = await writer.execute(RegisterPatron("Ada", "Lovelace", "ada@example.org"))
    await writer.events.relay.relay_once(clock.now())
    follower = CacheFollower(reader)
    await follower.round()
    await reader.cache.set(book_key(book), b"one copy on the shelf", TTL)
    await reader.cache.set("books:first:q", b"a page", TTL, tags=[FIRST_PAGES_BY_AVAILABILITY])

    await writer.execute(BorrowBook(book_id=book, patron_id=patron))
    await follower.round()
    assert await reader.cache.get(book_key(book)) == b"one copy on the shelf"  # not published

    await writer.events.relay.relay_once(clock.now())
    assert await follower.round() > 0

    assert await reader.cache.get(book_key(book)) is None
    assert await reader.cache.get("books:first:q") is None


async def test_the_background_work_runs_in_one_process_and_the_other_takes_it_over(
    peers: tuple[Shelfmark, Shelfmark], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(background, "LEASE_RETRY_SECONDS", 0.01)
    first, second = peers
    assert embedded_roles(first) == ["relay", "mail", "follow"]
    first_lease, second_lease = embedded_lease(first.settings), embedded_lease(second.settings)
    assert first_lease is not None and second_lease is not None
    first_work = Background(first, embedded_roles(first), lease=first_lease)
    second_work = Background(second, embedded_roles(second), lease=second_lease)
    first_work.start()
    await until(lambda: held(first_lease))
    second_work.start()
    try:
        await first.execute(AddBook(title="Dune", author="Frank Herbert"))
        await until(lambda: nothing_pending(second))  # relayed by the first's relay
        assert not second_lease.held

        await first_work.stop()
        await until(lambda: held(second_lease))

        await first.execute(AddBook(title="Emma", author="Jane Austen"))
        await until(lambda: nothing_pending(second))
        # Emma's round has read its batch: Ulysses waits for the relay's next look (a
        # commit in another process wakes no one), every peer_poll_seconds, not 30 s.
        await first.execute(AddBook(title="Ulysses", author="James Joyce"))
        await until(lambda: nothing_pending(second))
    finally:
        await first_work.stop()
        await second_work.stop()
    assert not second_lease.held


async def held(lease: HostLease) -> bool:
    return lease.held


async def nothing_pending(app: Shelfmark) -> bool:
    return await app.events.relay.pending() == 0

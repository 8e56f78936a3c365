"""Reads from a real streaming replica (scripts/replica.sh: a hot standby of the local cluster),
and read-your-writes over it: with the replica's replay paused, a patron still sees their own
loan at once, while another caller, reading the replica, does not see it yet.

The session's test database is created on the primary; CREATE DATABASE is in the log, so the
replica has it under the same name. With CI=true a replica that cannot start fails the tests."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from shelfmark.access.application.handlers import Principal
from shelfmark.access.domain.model import Role
from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.config import Settings
from shelfmark.entrypoints.http.app import create_app
from shelfmark.entrypoints.http.consistency import HEADER
from shelfmark.seedwork.infrastructure.database import Engines, create_engines
from shelfmark.seedwork.infrastructure.replica import ReplicaEngine, format_lsn, parse_lsn
from tests.support.auth import FreshToken, admin, as_librarian
from tests.support.clock import MutableClock
from tests.support.databases import truncate_all
from tests.support.replica import CATCH_UP_SECONDS, connect
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

LSN_HEADER = HEADER.decode()


@pytest.fixture
async def replica(replica_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the replica; replay runs again when the test ends, whatever
    happened."""
    connection = await connect(replica_url)
    yield connection
    await connection.execute("SELECT pg_wal_replay_resume()")
    await connection.close()


@pytest.fixture
async def engines(postgres_url: str, replica_url: str) -> AsyncIterator[Engines]:
    engines = create_engines(postgres_url, read_url=replica_url, pool_size=5)
    yield engines
    await truncate_all(engines)
    await engines.dispose()


@pytest.fixture
def shelfmark(engines: Engines, clock: MutableClock, tmp_path: Path) -> Shelfmark:
    return bootstrap(Settings(var_dir=tmp_path), clock=clock, engines=engines)


def client(shelfmark: Shelfmark, auth: httpx.Auth | None = None) -> httpx.AsyncClient:
    """A client of one API process (each call: another process, with its own memory)."""
    transport = httpx.ASGITransport(app=create_app(shelfmark=shelfmark), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://shelfmark.test", auth=auth)


async def caught_up(engine: ReplicaEngine) -> None:
    """Waits until the replica has replayed everything the primary has now."""
    position = await engine.primary_position()
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while not await engine.has_replayed(position):
        assert time.monotonic() < deadline, "the replica did not catch up"
        await asyncio.sleep(0.01)


async def test_the_replica_is_in_recovery_and_read_only(replica: asyncpg.Connection) -> None:
    assert await replica.fetchval("SELECT pg_is_in_recovery()") is True
    assert await replica.fetchval("SHOW transaction_read_only") == "on"
    assert await replica.fetchval("SELECT status FROM pg_stat_wal_receiver") == "streaming"
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        await replica.execute("CREATE TABLE nope (id int)")


async def test_rows_written_on_the_primary_appear_on_the_replica(
    shelfmark: Shelfmark, replica: asyncpg.Connection
) -> None:
    lags: list[float] = []
    async with client(shelfmark, as_librarian(shelfmark)) as api:
        for n in range(20):
            created = await api.post("/books", json={"title": f"Lag {n}", "author": "Probe"})
            assert created.status_code == 201, created.text
            committed = time.perf_counter()
            book_id = uuid.UUID(created.json()["id"])
            while not await replica.fetchval("SELECT count(*) FROM books WHERE id = $1", book_id):
                assert time.perf_counter() - committed < CATCH_UP_SECONDS, "never replicated"
                await asyncio.sleep(0.0005)
            lags.append((time.perf_counter() - committed) * 1000)
    print(  # the figure the report quotes; shown with -s
        f"\nreplica lag over {len(lags)} writes: median {statistics.median(lags):.1f} ms, "
        f"max {max(lags):.1f} ms (response received -> row visible on the replica)"
    )


async def test_a_patron_reads_their_own_loan_while_the_replica_lags(
    shelfmark: Shelfmark, replica: asyncpg.Connection
) -> None:
    engine = shelfmark.engines.read
    assert isinstance(engine, ReplicaEngine)
    async with client(shelfmark, as_librarian(shelfmark)) as desk:
        book = (await desk.post("/books", json={"title": "Dune", "author": "F. Herbert"})).json()
        patron = (
            await desk.post(
                "/patrons",
                json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"},
            )
        ).json()
    ada = FreshToken(
        shelfmark, Principal(uuid.uuid4(), "ada", Role.PATRON, uuid.UUID(patron["id"]))
    )
    await caught_up(engine)  # the desk's writes are on the replica; then it stops applying
    await replica.execute("SELECT pg_wal_replay_pause()")
    await _until(lambda: replica.fetchval("SELECT pg_get_wal_replay_pause_state() = 'paused'"))

    async with (
        client(shelfmark, ada) as patron_api,
        client(shelfmark, as_librarian(shelfmark)) as desk,
    ):
        borrowed = await patron_api.post(
            f"/books/{book['id']}/borrow", json={"patron_id": patron["id"]}
        )
        assert borrowed.status_code == 201, borrowed.text
        loan_id, position = borrowed.json()["id"], borrowed.headers[LSN_HEADER]
        assert not await engine.has_replayed(parse_lsn(position))

        # The patron: their next reads see the loan (they go to the primary).
        assert await loan_ids(patron_api, patron["id"]) == [loan_id]
        assert (await patron_api.get(f"/loans/{loan_id}")).status_code == 200

        # Another caller reads the replica, which has not applied the loan yet.
        assert await loan_ids(desk, patron["id"]) == []
        assert (await desk.get(f"/loans/{loan_id}")).status_code == 404
        loans_there = "SELECT count(*) FROM loans WHERE id = $1"
        assert await replica.fetchval(loans_there, uuid.UUID(loan_id)) == 0

    # Another API process does not remember the patron's write; the header they got does.
    async with client(shelfmark, ada) as elsewhere:
        assert await loan_ids(elsewhere, patron["id"]) == []
        assert await loan_ids(elsewhere, patron["id"], {LSN_HEADER: position}) == [loan_id]

    await replica.execute("SELECT pg_wal_replay_resume()")
    async with client(shelfmark, as_librarian(shelfmark)) as desk:
        await _until(lambda: _sees(desk, patron["id"], loan_id))
    async with client(shelfmark, ada) as elsewhere:
        assert await loan_ids(elsewhere, patron["id"]) == [loan_id]


async def loan_ids(
    api: httpx.AsyncClient, patron_id: str, headers: dict[str, str] | None = None
) -> list[str]:
    response = await api.get(f"/patrons/{patron_id}/loans", headers=headers)
    assert response.status_code == 200, response.text
    return [loan["id"] for loan in response.json()["items"]]


async def _sees(api: httpx.AsyncClient, patron_id: str, loan_id: str) -> bool:
    return await loan_ids(api, patron_id) == [loan_id]


async def _until(check: Any) -> None:
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def test_log_positions_read_and_print_as_postgresql_does() -> None:
    assert parse_lsn("16/B374D848") == 0x16_B374D848
    assert format_lsn(0x16_B374D848) == "16/B374D848"
    assert format_lsn(parse_lsn("0/0")) == "0/0"
    for malformed in ("", "16", "16/", "/1", "x/1", "-1/0", "0x1/0", "123456789/0"):
        with pytest.raises(ValueError, match="not an LSN"):
            parse_lsn(malformed)


async def test_reads_go_to_the_primary_while_the_replica_is_unreachable(
    postgres_url: str, replica_url: str, clock: MutableClock, tmp_path: Path
) -> None:
    """The replica cut off (through a proxy): reads answer from the primary, never a 5xx,
    and readiness says the replica is degraded; once it is back it is used again."""
    replica = make_url(replica_url)
    async with TcpProxy(replica.host or "127.0.0.1", replica.port or 5432) as proxy:
        proxied = replica.set(port=proxy.port).render_as_string(hide_password=False)
        engines = create_engines(postgres_url, read_url=proxied, pool_size=5)
        app = bootstrap(Settings(var_dir=tmp_path), clock=clock, engines=engines)
        try:
            async with client(app, as_librarian(app)) as desk:
                book = await desk.post("/books", json={"title": "Dune", "author": "Herbert"})
                assert book.status_code == 201, book.text
                await proxy.cut()
                async with client(app) as other:  # another caller: no write of theirs to wait for
                    for _ in range(5):
                        answer = await other.get("/loans", headers=admin(app))
                        assert answer.status_code == 200, answer.text
                ready = (await desk.get("/health/ready")).json()
                assert ready["checks"]["replica"] == "degraded"
                assert ready["checks"]["database"] == "ok"
                await proxy.restore()
                deadline = time.monotonic() + CATCH_UP_SECONDS
                while (await desk.get("/health/ready")).json()["checks"]["replica"] != "ok":
                    assert time.monotonic() < deadline, "the replica was not used again"
                    await asyncio.sleep(0.1)
        finally:
            await truncate_all(engines)
            await engines.dispose()

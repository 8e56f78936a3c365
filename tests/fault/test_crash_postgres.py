"""PostgreSQL crashes (`pg_ctl stop -m immediate`) under a real `shelfmark serve` while the desk
borrows and returns: every write that was answered 2xx is in the database after recovery, the
requests answered while it is down get an error answer (none hangs, none claims success; while
it starts again a write may commit and say so), and once PostgreSQL is back the same server
process serves writes again, without a restart.

The cluster is the test's own (tests/support/private_postgres.py), so the machine's shared
server is never stopped.

Run alone: `.venv/bin/python -m pytest -s tests/fault/test_crash_postgres.py`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.fault.crash_desk import Ledger, circulate, seed_pairs, until
from tests.fault.serve_process import create_librarian, desk_client, serve_env, serving, until_up
from tests.support.private_postgres import PrivateCluster, private_cluster

pytestmark = [pytest.mark.fault, pytest.mark.postgres]

WORKERS = 6
WRITES_BEFORE = 60  # acknowledged before the crash
ANSWERS_DURING = 30  # requests sent and answered while PostgreSQL is down
WRITES_AFTER = 60  # acknowledged after it is back
#: What a request answered while the database is down gets: 503, or 409 for a borrow whose
#: earlier attempt committed unanswered (the copy is already out). Never a success, never a 500.
OUTAGE_STATUSES = frozenset({409, 503})
#: While it starts again, the database may answer before `pg_ctl start` returns: a write that
#: then commits is answered as such (and must be in the database, as every 2xx).
RESTART_STATUSES = OUTAGE_STATUSES | {200, 201}


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    with private_cluster() as cluster:
        yield cluster


async def create_database(cluster: PrivateCluster) -> str:
    name = f"crash_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(host="127.0.0.1", port=cluster.port, user="postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name


async def stored_loans(cluster: PrivateCluster, database: str, ids: list[str]) -> dict[str, str]:
    """Loan id -> status, for those of `ids` the database holds."""
    connection = await asyncpg.connect(
        host="127.0.0.1", port=cluster.port, user="postgres", database=database
    )
    try:
        rows = await connection.fetch(
            "SELECT id::text, status FROM loans WHERE id = ANY($1::uuid[])", ids
        )
    finally:
        await connection.close()
    return {row[0]: row[1] for row in rows}


async def test_no_acknowledged_write_is_lost_when_postgresql_crashes(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    began = time.monotonic()
    database = await create_database(cluster)
    env = serve_env(cluster.url(database), tmp_path)
    create_librarian(env)
    with serving(env, tmp_path / "serve.log") as server:
        await until_up(server)
        async with desk_client(server) as api:
            pairs = await seed_pairs(api, WORKERS)
            ledger, stop = Ledger(), asyncio.Event()
            workers = [asyncio.create_task(circulate(api, p, ledger, stop)) for p in pairs]
            try:
                await until(
                    lambda: ledger.acknowledged >= WRITES_BEFORE,
                    within=20,
                    what="writes acknowledged before the crash",
                )
                acknowledged_before = ledger.acknowledged
                await asyncio.to_thread(cluster.crash)
                down = time.monotonic()
                await until(
                    lambda: len(ledger.within(down)) >= ANSWERS_DURING,
                    within=15,
                    what="answers while PostgreSQL is down (a request hangs?)",
                )
                readiness = await api.get("/health/ready")
                starting = time.monotonic()
                await asyncio.to_thread(cluster.start)
                up = time.monotonic()
                await until(
                    lambda: ledger.successes_since(up) >= WRITES_AFTER,
                    within=20,
                    what="writes acknowledged again after PostgreSQL is back",
                )
            finally:
                stop.set()
                await asyncio.gather(*workers)
            assert server.alive(), "the server died with the database:\n" + server.output()

    during = ledger.statuses(down, up)
    unavailable = [a for a in ledger.within(down, up) if a.status == 503]
    after = ledger.within(up)
    first_success = min(a.at for a in after if isinstance(a.status, int) and a.status < 300)
    stored = await stored_loans(cluster, database, ledger.loans)
    print(  # the figures the report quotes; shown with -s
        f"\n{acknowledged_before} writes acknowledged before the crash, {ledger.acknowledged} in "
        f"all ({len(ledger.loans)} borrows, {len(ledger.returned)} returns); "
        f"during the {up - down:.1f} s outage: {dict(during)} (while stopped: "
        f"{dict(ledger.statuses(down, starting))}, while starting and recovering: "
        f"{dict(ledger.statuses(starting, up))}); "
        f"/health/ready during it: {readiness.status_code}; "
        f"first write acknowledged {first_success - up:.2f} s after the restart; "
        f"after: {dict(ledger.statuses(up))}; whole test {time.monotonic() - began:.1f} s"
    )
    missing = set(ledger.loans) - set(stored)
    assert not missing, f"{len(missing)} loans answered 201 are not in the database"
    not_returned = [loan for loan in ledger.returned if stored[loan] != "returned"]
    assert not not_returned, f"returns answered 200 are not in the database: {not_returned}"
    stopped = ledger.statuses(down, starting)
    assert set(stopped) <= OUTAGE_STATUSES, f"requests while it was stopped got {dict(stopped)}"
    restarting = Counter(a.status for a in ledger.within(down, up) if a.at >= starting)
    assert set(restarting) <= RESTART_STATUSES, f"while it restarted: {dict(restarting)}"
    assert all(a.retry_after for a in unavailable), "a 503 without Retry-After"
    assert readiness.status_code == 503

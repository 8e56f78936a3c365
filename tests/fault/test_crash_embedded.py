"""`shelfmark serve` in embedded mode (SQLite) killed with SIGKILL while the desk borrows and
returns: the database file is sound afterwards (`PRAGMA integrity_check`), every write answered
2xx is in it, and a server started again on the same file serves.

Run alone: `.venv/bin/python -m pytest -s tests/fault/test_crash_embedded.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from tests.fault.crash_desk import Ledger, circulate, seed_pairs, until
from tests.fault.serve_process import create_librarian, desk_client, serve_env, serving, until_up
from tests.support.databases import sqlite_url

pytestmark = pytest.mark.fault

WORKERS = 6
WRITES_BEFORE = 150  # acknowledged before the kill


def inspect(database: Path, loans: list[str]) -> tuple[list[str], list[str], dict[str, str]]:
    """The integrity check's answer, the foreign keys that point nowhere, and the status of each
    of `loans` the file holds (read as a fresh process would, recovering the -wal file)."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        dangling = [str(row) for row in connection.execute("PRAGMA foreign_key_check")]
        stored = dict(connection.execute("SELECT id, status FROM loans").fetchall())
    by_id = {str(uuid.UUID(str(key))): status for key, status in stored.items()}
    return integrity, dangling, {loan: by_id[loan] for loan in loans if loan in by_id}


async def test_a_killed_embedded_server_keeps_a_sound_file_and_every_acknowledged_write(
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    database = tmp_path / "shelfmark.db"
    env = serve_env(sqlite_url(database), tmp_path)
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
                    what="writes acknowledged before the kill",
                )
                server.kill()
                killed = time.monotonic()
                # Every worker's request in flight at the kill, and its next one, fail.
                await until(
                    lambda: len(ledger.within(killed)) >= WORKERS,
                    within=10,
                    what="requests refused after the kill",
                )
            finally:
                stop.set()
                await asyncio.gather(*workers)
    cut_short = sum(1 for a in ledger.answers if a.started < killed <= a.at)

    integrity, dangling, stored = inspect(database, ledger.loans)
    assert integrity == ["ok"], integrity
    assert not dangling, dangling
    missing = set(ledger.loans) - set(stored)
    assert not missing, f"{len(missing)} loans answered 201 are not in the file"
    not_returned = [loan for loan in ledger.returned if stored[loan] != "returned"]
    assert not not_returned, f"returns answered 200 are not in the file: {not_returned}"

    restarted = time.monotonic()
    with serving(env, tmp_path / "serve.log") as again:
        await until_up(again)
        async with desk_client(again) as api:
            up = time.monotonic()
            (book_id, patron_id), *_ = await seed_pairs(api, 1)
            loan = await api.post(f"/books/{book_id}/borrow", json={"patron_id": patron_id})
            assert loan.status_code == 201, loan.text
            for acknowledged in ledger.loans[-WORKERS:]:
                assert (await api.get(f"/loans/{acknowledged}")).status_code == 200
    print(  # the figures the report quotes; shown with -s
        f"\n{ledger.acknowledged} writes acknowledged before the SIGKILL ({len(ledger.loans)} "
        f"borrows, {len(ledger.returned)} returns), {cut_short} requests cut short by it; "
        f"after it: {dict(ledger.statuses(killed))}; integrity_check {integrity}; "
        f"restarted and serving in {up - restarted:.1f} s; whole test "
        f"{time.monotonic() - began:.1f} s"
    )

"""Holds under concurrency, on SQLite and PostgreSQL: a returned copy is never kept for two
patrons, and one hold cancelled twice at once is cancelled once."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.seedwork.infrastructure.outbox import outbox
from tests.e2e.conftest import Desk

ROUNDS = 10


async def test_a_copy_returned_while_two_patrons_queue_is_kept_for_one_at_most(
    api: httpx.AsyncClient, desk: Desk
) -> None:
    holder = await desk.patron("holder@example.org")
    for n in range(ROUNDS):
        book = await desk.book(title=f"Contested {n}")
        loan = (
            await api.post(f"/books/{book['id']}/borrow", json={"patron_id": holder["id"]})
        ).json()
        first = await desk.patron(f"first{n}@example.org")
        second = await desk.patron(f"second{n}@example.org")

        returned, *placed = await asyncio.gather(
            api.post(f"/loans/{loan['id']}/return", json={}),
            api.post(f"/books/{book['id']}/holds", json={"patron_id": first["id"]}),
            api.post(f"/books/{book['id']}/holds", json={"patron_id": second["id"]}),
        )

        assert returned.status_code == 200
        assert [p.status_code for p in placed] == [201, 201]
        holds = [(await api.get(f"/holds/{p.json()['id']}")).json() for p in placed]
        statuses = Counter(h["status"] for h in holds)
        assert statuses == {"ready": 1, "waiting": 1}, statuses  # the copy came back: one keeps it
        shown = (await api.get(f"/books/{book['id']}")).json()
        assert shown["copies"][0]["status"] == "on_hold_shelf"
        assert shown["holds_waiting"] == 1


async def test_two_concurrent_cancels_of_one_hold_cancel_it_once(
    api: httpx.AsyncClient, desk: Desk, database: AsyncEngine
) -> None:
    book = await desk.book()
    reader, waiting = await desk.patron(), await desk.patron("waiting@example.org")
    await api.post(f"/books/{book['id']}/borrow", json={"patron_id": reader["id"]})
    hold = (await api.post(f"/books/{book['id']}/holds", json={"patron_id": waiting["id"]})).json()

    responses = await asyncio.gather(
        api.post(f"/holds/{hold['id']}/cancel"), api.post(f"/holds/{hold['id']}/cancel")
    )

    assert Counter(r.status_code for r in responses) == {200: 1, 409: 1}
    refused = next(r for r in responses if r.status_code == 409)
    assert [x["code"] for x in refused.json()["reasons"]] == ["HOLD_NOT_ACTIVE"]
    async with database.connect() as connection:
        cancelled = await connection.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.event_type == "HoldCancelled")
        )
    assert cancelled == 1

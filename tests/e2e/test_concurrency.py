"""The last copy under a crowd, and Idempotency-Key semantics, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.bootstrap import Shelfmark
from shelfmark.catalog.infrastructure.orm import books
from shelfmark.entrypoints.http.idempotency import fingerprint
from shelfmark.lending.infrastructure.orm import loans
from shelfmark.seedwork.infrastructure.idempotency import Claimed
from tests.e2e.conftest import Desk
from tests.support.auth import DESK_ACCOUNT

CROWD = 50


async def test_fifty_patrons_race_for_the_last_copy(
    api: httpx.AsyncClient, desk: Desk, database: AsyncEngine
) -> None:
    book = await desk.book()
    patrons = [await desk.patron(f"reader{n}@example.org") for n in range(CROWD)]

    responses = await asyncio.gather(
        *(api.post(f"/books/{book['id']}/borrow", json={"patron_id": p["id"]}) for p in patrons)
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: CROWD - 1}, statuses
    refusals = {r.json()["reasons"][0]["code"] for r in responses if r.status_code == 409}
    assert refusals == {"NO_COPY_AVAILABLE"}
    async with database.connect() as connection:
        open_loans = await connection.scalar(
            select(func.count()).select_from(loans).where(loans.c.returned_at.is_(None))
        )
    assert open_loans == 1


async def _count_books(database: AsyncEngine) -> int:
    async with database.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(books)) or 0)


async def test_the_same_key_and_body_replays_the_first_answer_with_one_effect(
    api: httpx.AsyncClient, database: AsyncEngine
) -> None:
    body = {"title": "Dune", "author": "Frank Herbert"}
    headers = {"Idempotency-Key": "add-dune-1"}
    first = await api.post("/books", json=body, headers=headers)
    second = await api.post("/books", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert await _count_books(database) == 1


async def test_the_same_key_with_another_body_is_422(
    api: httpx.AsyncClient, database: AsyncEngine
) -> None:
    headers = {"Idempotency-Key": "add-book-2"}
    await api.post("/books", json={"title": "Dune", "author": "Frank Herbert"}, headers=headers)
    other = await api.post(
        "/books", json={"title": "Emma", "author": "Jane Austen"}, headers=headers
    )
    assert other.status_code == 422
    assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await _count_books(database) == 1


async def test_a_key_whose_first_request_still_runs_is_409(
    api: httpx.AsyncClient, shelfmark: Shelfmark
) -> None:
    body = b'{"title": "Dune", "author": "Frank Herbert"}'
    in_flight = await shelfmark.idempotency.claim(
        f"{DESK_ACCOUNT}:add-book-3", fingerprint("/books", b"", body), shelfmark.clock.now()
    )
    assert isinstance(in_flight, Claimed)
    headers = {"Idempotency-Key": "add-book-3", "content-type": "application/json"}
    busy = await api.post("/books", content=body, headers=headers)
    assert busy.status_code == 409
    assert busy.json()["code"] == "IDEMPOTENCY_KEY_IN_USE"
    assert await _count_books(shelfmark.engines.read) == 0


async def test_a_refusal_is_replayed_even_after_the_copy_came_back(
    api: httpx.AsyncClient, desk: Desk
) -> None:
    book = await desk.book()
    patron = await desk.patron()
    await api.post(f"/books/{book['id']}/borrow", json={"patron_id": patron["id"]})
    headers = {"Idempotency-Key": "second-borrow"}
    refused = await api.post(
        f"/books/{book['id']}/borrow", json={"patron_id": patron["id"]}, headers=headers
    )
    await api.post(f"/books/{book['id']}/return", json={})
    replayed = await api.post(
        f"/books/{book['id']}/borrow", json={"patron_id": patron["id"]}, headers=headers
    )
    assert refused.status_code == replayed.status_code == 409
    assert refused.json() == replayed.json()


async def test_one_patrons_concurrent_borrows_respect_the_loan_limit(
    api: httpx.AsyncClient, desk: Desk
) -> None:
    patron = await desk.patron()
    for n in range(4):
        book = await desk.book(title=f"Held {n}")
        await api.post(f"/books/{book['id']}/borrow", json={"patron_id": patron["id"]})
    wanted = [await desk.book(title=f"Wanted {n}") for n in range(5)]

    responses = await asyncio.gather(
        *(api.post(f"/books/{b['id']}/borrow", json={"patron_id": patron["id"]}) for b in wanted)
    )

    assert Counter(r.status_code for r in responses) == {201: 1, 409: 4}
    loans = (await api.get(f"/patrons/{patron['id']}/loans")).json()["items"]
    assert len(loans) == 5

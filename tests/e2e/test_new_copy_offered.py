"""A copy added while patrons wait is kept for the first of them as soon as the catalog's
CopyAdded reaches lending (through the outbox and the consumer's inbox), not at the next
return."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Desk, Settle


async def test_a_new_copy_goes_to_the_first_waiting_hold(
    api: httpx.AsyncClient, desk: Desk, settled: Settle
) -> None:
    book = await desk.book(copies=1)
    reader = await desk.patron("reader@example.org")
    first = await desk.patron("first@example.org")
    second = await desk.patron("second@example.org")
    borrowed = await api.post(f"/books/{book['id']}/borrow", json={"patron_id": reader["id"]})
    assert borrowed.status_code == 201, borrowed.text
    holds = []
    for patron in (first, second):
        placed = await api.post(f"/books/{book['id']}/holds", json={"patron_id": patron["id"]})
        assert placed.status_code == 201, placed.text
        holds.append(placed.json())
    await settled()

    added = await api.post(f"/books/{book['id']}/copies", json={})
    assert added.status_code == 201, added.text
    await settled()

    first_hold = (await api.get(f"/holds/{holds[0]['id']}")).json()
    second_hold = (await api.get(f"/holds/{holds[1]['id']}")).json()
    assert first_hold["status"] == "ready"
    assert first_hold["copy_id"] == added.json()["id"]
    assert second_hold["status"] == "waiting"


async def test_a_new_copy_with_nobody_waiting_stays_on_the_shelf(
    api: httpx.AsyncClient, desk: Desk, settled: Settle
) -> None:
    book = await desk.book(copies=1)
    added = await api.post(f"/books/{book['id']}/copies", json={})
    await settled()
    patron = await desk.patron()
    borrowed = await api.post(
        f"/books/{book['id']}/borrow",
        json={"patron_id": patron["id"], "barcode": added.json()["barcode"]},
    )
    assert borrowed.status_code == 201, borrowed.text

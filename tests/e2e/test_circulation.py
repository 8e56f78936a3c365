"""The desk's day over HTTP: add a book, register a patron, borrow, return, pay."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.e2e.conftest import Desk, Settle
from tests.support.clock import MutableClock


async def test_borrow_and_return_show_the_due_date_and_the_fine(
    api: httpx.AsyncClient, desk: Desk, clock: MutableClock
) -> None:
    book = await desk.book(isbn="0-441-17271-7")
    assert book["isbn"] == "9780441172719" and book["status"] == "available"
    patron = await desk.patron()

    borrowed = await api.post(
        f"/books/{book['id']}/borrow", json={"borrower_email": "ADA@example.org"}
    )
    assert borrowed.status_code == 201, borrowed.text
    loan = borrowed.json()
    assert loan["due_at"] == "2026-03-16T23:59:59Z"  # 14 days, end of day
    assert (loan["status"], loan["renewals_left"], loan["fine"]) == ("active", 2, None)

    shown = (await api.get(f"/books/{book['id']}")).json()
    assert (shown["status"], shown["is_borrowed"], shown["copies_available"]) == (
        "borrowed",
        True,
        0,
    )
    assert shown["copies"][0]["status"] == "on_loan"

    clock.set(datetime(2026, 3, 20, 10, tzinfo=UTC))  # 4 started days late
    assert (await api.get(f"/loans/{loan['id']}")).json()["status"] == "overdue"
    returned = await api.post(f"/books/{book['id']}/return", json={})
    assert returned.status_code == 200, returned.text
    assert (returned.json()["status"], returned.json()["fine"]) == ("returned", "1.00")

    account = (await api.get(f"/patrons/{patron['id']}/account")).json()
    assert account["balance"] == "1.00"
    assert [e["kind"] for e in account["entries"]] == ["overdue_fine"]
    paid = await api.post(f"/patrons/{patron['id']}/payments", json={"amount": "1.00"})
    assert paid.status_code == 201 and paid.json()["amount"] == "1.00"
    assert (await api.get(f"/patrons/{patron['id']}")).json()["balance"] == "0.00"


async def test_returning_a_loan_twice_answers_with_the_original_return(
    api: httpx.AsyncClient, desk: Desk, clock: MutableClock
) -> None:
    book, patron = await desk.book(), await desk.patron()
    loan = (
        await api.post("/loans", json={"patron_id": patron["id"], "book_id": book["id"]})
    ).json()
    clock.advance(days=1)
    first = await api.post(f"/loans/{loan['id']}/return")
    clock.advance(days=30)
    second = await api.post(f"/loans/{loan['id']}/return", json={})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()


async def test_renewal_and_the_third_renewal_refused(api: httpx.AsyncClient, desk: Desk) -> None:
    book, patron = await desk.book(), await desk.patron()
    loan = (await api.post(f"/books/{book['id']}/borrow", json={"patron_id": patron["id"]})).json()
    first = (await api.post(f"/loans/{loan['id']}/renew")).json()
    assert (first["due_at"], first["renewals_left"]) == ("2026-03-30T23:59:59Z", 1)
    await api.post(f"/loans/{loan['id']}/renew")
    third = await api.post(f"/loans/{loan['id']}/renew")
    assert third.status_code == 409
    assert third.headers["content-type"] == "application/problem+json"
    assert [r["code"] for r in third.json()["reasons"]] == ["RENEWAL_LIMIT_REACHED"]


async def test_a_refusal_lists_every_reason(api: httpx.AsyncClient, desk: Desk) -> None:
    reference = await desk.book(circulation="reference")
    patron = await desk.patron()
    await api.post(f"/patrons/{patron['id']}/suspend", json={"reason": "lost books"})
    refused = await api.post(f"/books/{reference['id']}/borrow", json={"patron_id": patron["id"]})
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "BORROWING_REFUSED"
    assert [r["code"] for r in body["reasons"]] == ["PATRON_SUSPENDED", "REFERENCE_ONLY"]
    shown = (await api.get(f"/patrons/{patron['id']}")).json()
    assert [b["code"] for b in shown["blocks"]] == ["PATRON_SUSPENDED"]


async def test_the_sixth_loan_of_a_regular_patron_is_refused(
    api: httpx.AsyncClient, desk: Desk
) -> None:
    patron = await desk.patron()
    for n in range(5):
        book = await desk.book(title=f"Volume {n}")
        ok = await api.post(f"/books/{book['id']}/borrow", json={"patron_id": patron["id"]})
        assert ok.status_code == 201, ok.text
    sixth = await desk.book(title="Volume 6")
    refused = await api.post(f"/books/{sixth['id']}/borrow", json={"patron_id": patron["id"]})
    assert [r["code"] for r in refused.json()["reasons"]] == ["MAX_LOANS_REACHED"]
    assert (await api.get(f"/patrons/{patron['id']}/loans?status=active")).json()[
        "items"
    ].__len__() == 5


async def test_patron_lifecycle(api: httpx.AsyncClient, desk: Desk) -> None:
    patron = await desk.patron(membership_tier="premium")
    assert patron["category"] == "premium" and patron["card_expires_on"] == "2029-03-02"
    pid = patron["id"]
    assert (await api.post(f"/patrons/{pid}/upgrade", json={"category": "researcher"})).json()[
        "category"
    ] == "researcher"
    downgrade = await api.post(f"/patrons/{pid}/upgrade", json={"category": "regular"})
    assert downgrade.status_code == 409 and downgrade.json()["code"] == "NOT_AN_UPGRADE"
    suspended = (await api.post(f"/patrons/{pid}/suspend", json={"reason": "unpaid"})).json()
    assert suspended["is_suspended"] and suspended["suspended_reason"] == "unpaid"
    assert not (await api.post(f"/patrons/{pid}/reinstate")).json()["is_suspended"]
    renewed = (await api.post(f"/patrons/{pid}/renew-membership")).json()
    assert renewed["card_expires_on"] == "2032-03-02"
    duplicate = await api.post(
        "/patrons", json={"first_name": "A", "last_name": "L", "email": "ADA@example.org"}
    )
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "EMAIL_TAKEN"


async def test_keyset_pages_walk_the_whole_list_once(
    api: httpx.AsyncClient, desk: Desk, settled: Settle
) -> None:
    for n in range(7):
        await desk.book(title=f"Title {n:02d}")
    await settled()
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = await api.get("/books", params=params)
        body = page.json()
        seen += [b["title"] for b in body["items"]]
        assert page.headers.get("x-next-cursor") == body["next_cursor"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Title {n:02d}" for n in range(7)]
    found = (await api.get("/books", params={"q": "title 03"})).json()["items"]
    assert [b["title"] for b in found] == ["Title 03"]


async def test_isbn_search_with_or_without_hyphens(
    api: httpx.AsyncClient, desk: Desk, settled: Settle
) -> None:
    await desk.book(isbn="9780441172719")
    await settled()
    for query in ("978-0-441-17271-9", "0441172717"):
        items = (await api.get("/books", params={"q": query})).json()["items"]
        assert [b["isbn"] for b in items] == ["9780441172719"]


async def test_single_resources_carry_an_etag(api: httpx.AsyncClient, desk: Desk) -> None:
    book = await desk.book()
    first = await api.get(f"/books/{book['id']}")
    etag = first.headers["etag"]
    again = await api.get(f"/books/{book['id']}", headers={"If-None-Match": etag})
    assert again.status_code == 304


async def test_every_response_has_a_request_id(api: httpx.AsyncClient) -> None:
    echoed = await api.get("/health", headers={"X-Request-ID": "desk-42"})
    assert echoed.headers["x-request-id"] == "desk-42"
    assert len((await api.get("/health")).headers["x-request-id"]) == 32


async def test_policy_and_readiness(api: httpx.AsyncClient) -> None:
    policy = (await api.get("/policy")).json()
    assert policy["name"] == "public_library"
    assert policy["library"]["fine_per_day"] == "0.25"
    assert policy["library"]["fine_cap"] == "5.00"
    assert policy["categories"]["regular"]["max_loans"] == 5
    ready = await api.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


async def test_the_available_filter(api: httpx.AsyncClient, desk: Desk, settled: Settle) -> None:
    out, shelf = await desk.book(title="Out"), await desk.book(title="Shelf")
    patron = await desk.patron()
    await api.post(f"/books/{out['id']}/borrow", json={"patron_id": patron["id"]})
    await settled()
    available = (await api.get("/books", params={"available": "true"})).json()["items"]
    borrowed = (await api.get("/books", params={"available": "false"})).json()["items"]
    assert [b["id"] for b in available] == [shelf["id"]]
    assert [b["id"] for b in borrowed] == [out["id"]]


async def test_scanning_a_returned_book_again_answers_with_the_original_return(
    api: httpx.AsyncClient, desk: Desk, clock: MutableClock
) -> None:
    book, patron = await desk.book(), await desk.patron()
    await api.post(f"/books/{book['id']}/borrow", json={"patron_id": patron["id"]})
    first = await api.post(f"/books/{book['id']}/return", json={})
    clock.advance(days=40)
    again = await api.post(f"/books/{book['id']}/return", json={})
    assert again.status_code == 200
    assert again.json() == first.json()
    other = await api.post(f"/books/{book['id']}/return", json={"barcode": "NOT-THIS-ONE"})
    assert other.status_code == 404


async def test_loans_page_by_cursor_newest_first_each_loan_once(
    api: httpx.AsyncClient, desk: Desk
) -> None:
    """Three loans borrowed at the same instant (the test clock stands still): the cursor's
    tie-break on the id still gives each one once, on the desk's list and the patron's."""
    patron = await desk.patron()
    lent = []
    for title in ("Dune", "Emma", "Ulysses"):
        book = await desk.book(title=title)
        borrowed = await api.post(f"/books/{book['id']}/borrow", json={"patron_id": patron["id"]})
        assert borrowed.status_code == 201, borrowed.text
        lent.append(borrowed.json()["id"])
    for first in ("/loans?status=active&limit=1", f"/patrons/{patron['id']}/loans?limit=1"):
        seen, url = [], first
        while url:
            page = await api.get(url)
            assert page.status_code == 200, page.text
            seen += [loan["id"] for loan in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            url = f"{first}&cursor={cursor}" if cursor else ""
        assert sorted(seen) == sorted(lent)
        assert len(seen) == 3

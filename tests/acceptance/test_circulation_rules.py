"""Acceptance: every rule of DOMAIN.md's Loans, Holds and Fees sections, walked over HTTP with
an injected clock, boundaries included, on SQLite and on PostgreSQL.

The clock starts on Monday 2 March 2026, 10:00 UTC; the library closes on Sundays.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shelfmark.bootstrap import Shelfmark
from tests.acceptance.desk import Circulation, reasons
from tests.support.clock import MutableClock
from tests.support.events import settle


@pytest.fixture
def desk(api: httpx.AsyncClient, shelfmark: Shelfmark) -> Circulation:
    return Circulation(api, shelfmark)


def at(day: int, hour: int = 10, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# --- Loans -----------------------------------------------------------------------------------


async def test_due_date_is_the_end_of_the_last_day_moved_past_a_closed_day(
    desk: Circulation, clock: MutableClock
) -> None:
    book, patron = await desk.book(copies=2), await desk.patron()
    assert (await desk.lend(book, patron))["due_at"] == "2026-03-16T23:59:59Z"
    clock.set(at(1))  # a Sunday: 14 days on is a Sunday too
    other = await desk.patron()
    assert (await desk.lend(book, other))["due_at"] == "2026-03-16T23:59:59Z"


async def test_a_policy_change_never_changes_a_running_loan(
    desk: Circulation, shelfmark: Shelfmark
) -> None:
    book, patron = await desk.book(), await desk.patron()
    loan = await desk.lend(book, patron)
    regular = dataclasses.replace(shelfmark.policy.categories["regular"], loan_period_days=7)
    categories = shelfmark.policy.categories | {"regular": regular}
    shelfmark.policy = dataclasses.replace(shelfmark.policy, categories=categories)
    renewed = await desk.api.post(f"/loans/{loan['id']}/renew")
    assert renewed.json()["due_at"] == "2026-03-30T23:59:59Z"  # still 14 days a period


async def test_the_third_renewal_is_refused_for_a_regular_patron(desk: Circulation) -> None:
    book, patron = await desk.book(), await desk.patron()
    loan = await desk.lend(book, patron)
    for left in (1, 0):
        renewed = await desk.api.post(f"/loans/{loan['id']}/renew")
        assert renewed.json()["renewals_left"] == left
    assert reasons(await desk.api.post(f"/loans/{loan['id']}/renew")) == ["RENEWAL_LIMIT_REACHED"]


async def test_renewal_is_refused_for_a_returned_loan_and_a_blocked_patron(
    desk: Circulation,
) -> None:
    book, patron = await desk.book(copies=2), await desk.patron()
    returned = await desk.give_back(await desk.lend(book, patron))
    assert reasons(await desk.api.post(f"/loans/{returned['id']}/renew")) == [
        "LOAN_ALREADY_RETURNED"
    ]
    loan = await desk.lend(book, patron)
    await desk.api.post(f"/patrons/{patron['id']}/suspend", json={"reason": "unpaid"})
    assert reasons(await desk.api.post(f"/loans/{loan['id']}/renew")) == ["PATRON_SUSPENDED"]


async def test_renewal_is_refused_while_holds_outnumber_copies_on_the_shelf(
    desk: Circulation,
) -> None:
    book, reader, waiting = await desk.book(), await desk.patron(), await desk.patron()
    loan = await desk.lend(book, reader)
    await desk.queue(book, waiting)
    assert reasons(await desk.api.post(f"/loans/{loan['id']}/renew")) == ["HOLDS_WAITING"]


async def test_renewing_an_overdue_loan_first_charges_the_fine_so_far(
    desk: Circulation, clock: MutableClock
) -> None:
    book, patron = await desk.book(), await desk.patron()
    loan = await desk.lend(book, patron)
    clock.set(at(20))  # four started days late
    renewed = await desk.api.post(f"/loans/{loan['id']}/renew")
    assert renewed.json()["due_at"] == "2026-03-30T23:59:59Z"
    assert await desk.balance(patron) == "1.00"


@pytest.mark.parametrize(
    ("returned_at", "fine"),
    [
        (at(16, 23), "0.00"),  # on the due date
        (at(17, 10), "0.00"),  # one day late: inside the grace day
        (at(20, 10), "1.00"),  # four started days late
        (at(23, 10), "1.50"),  # seven days late, Sunday 22nd not charged
        (at(15, 10, month=5), "5.00"),  # capped
    ],
)
async def test_fines_at_return(
    desk: Circulation, clock: MutableClock, returned_at: datetime, fine: str
) -> None:
    book, patron = await desk.book(), await desk.patron()
    loan = await desk.lend(book, patron)
    clock.set(returned_at)
    assert (await desk.give_back(loan))["fine"] == fine
    assert await desk.balance(patron) == fine


async def test_the_fine_is_never_above_the_replacement_cost(
    desk: Circulation, clock: MutableClock
) -> None:
    book, patron = await desk.book(copies=0), await desk.patron()
    await desk.api.post(f"/books/{book['id']}/copies", json={"replacement_cost": "3.00"})
    loan = await desk.lend(book, patron)
    clock.set(at(15, month=5))
    assert (await desk.give_back(loan))["fine"] == "3.00"


async def test_a_book_drop_return_is_backdated_and_returning_twice_changes_nothing(
    desk: Circulation, clock: MutableClock
) -> None:
    book, patron = await desk.book(), await desk.patron()
    loan = await desk.lend(book, patron)
    clock.set(at(25))
    first = await desk.give_back(loan, returned_at="2026-03-16T20:00:00Z")
    assert (first["returned_at"], first["fine"]) == ("2026-03-16T20:00:00Z", "0.00")
    clock.advance(days=3)
    assert await desk.give_back(loan) == first


async def test_the_daily_job_registers_overdue_once_and_never_a_returned_loan(
    desk: Circulation, clock: MutableClock, shelfmark: Shelfmark
) -> None:
    book, patron = await desk.book(copies=2), await desk.patron()
    late = await desk.lend(book, patron)
    back_in_time = await desk.lend(book, patron)
    clock.set(at(16, 20))
    await desk.give_back(back_in_time)
    clock.set(at(17, 3))
    first = await shelfmark.run_daily_jobs()
    second = await shelfmark.run_daily_jobs()
    assert first.changed["register_overdue"] == 1
    assert second.changed == dict.fromkeys(second.changed, 0)
    events = await desk.events()
    assert events["LoanBecameOverdue"] == 1
    assert (await desk.get(f"/loans/{late['id']}"))["status"] == "overdue"
    assert (await desk.get(f"/loans/{back_in_time['id']}"))["status"] == "returned"


async def test_thirty_days_overdue_is_lost_and_a_copy_back_within_90_days_is_refunded(
    desk: Circulation, clock: MutableClock, shelfmark: Shelfmark
) -> None:
    book, patron = await desk.book(), await desk.patron()
    loan = await desk.lend(book, patron)
    clock.set(due := at(16, 23, 59) + timedelta(days=30))
    await shelfmark.run_daily_jobs()
    assert (await desk.get(f"/loans/{loan['id']}"))["status"] == "overdue"  # not lost yet
    clock.set(due + timedelta(hours=1))
    await shelfmark.run_daily_jobs()
    await shelfmark.run_daily_jobs()
    assert (await desk.get(f"/loans/{loan['id']}"))["status"] == "lost"
    assert await desk.balance(patron) == "30.00"  # 25.00 replacement + 5.00 processing
    assert (await desk.events())["LoanAgedToLost"] == 1
    clock.advance(days=10)
    returned = await desk.give_back(loan)
    assert returned["fine"] == "5.00"  # the overdue fine, capped
    assert await desk.balance(patron) == "10.00"  # replacement refunded, processing kept


async def test_a_lost_copy_back_after_90_days_is_not_refunded(
    desk: Circulation, clock: MutableClock, shelfmark: Shelfmark
) -> None:
    book, patron = await desk.book(), await desk.patron()
    loan = await desk.lend(book, patron)
    clock.set(at(20, month=4))
    await shelfmark.run_daily_jobs()
    clock.advance(days=91)
    await desk.give_back(loan)
    assert await desk.balance(patron) == "35.00"


async def test_a_refund_after_paying_leaves_a_credit_that_later_fines_use_and_staff_pay_out(
    desk: Circulation, clock: MutableClock, shelfmark: Shelfmark
) -> None:
    book, patron = await desk.book(), await desk.patron()
    loan = await desk.lend(book, patron)
    clock.set(at(16, 23, 59) + timedelta(days=30, hours=1))
    await shelfmark.run_daily_jobs()
    assert await desk.balance(patron) == "30.00"
    paid = await desk.api.post(f"/patrons/{patron['id']}/payments", json={"amount": "30.00"})
    assert paid.status_code == 201, paid.text
    clock.advance(days=10)
    assert (await desk.give_back(loan))["fine"] == "5.00"
    assert await desk.balance(patron) == "-20.00"  # 25.00 refunded, 5.00 fine: the library owes
    payout = f"/patrons/{patron['id']}/payouts"
    assert reasons(
        await desk.api.post(f"/patrons/{patron['id']}/payments", json={"amount": "1"})
    ) == ["PAYMENT_EXCEEDS_BALANCE"]
    assert reasons(await desk.api.post(payout, json={"amount": "20.01"})) == [
        "PAYOUT_EXCEEDS_CREDIT"
    ]
    late = await desk.lend(await desk.book(title="Late again"), patron)
    clock.advance(days=25)
    assert (await desk.give_back(late))["fine"] == "2.25"  # taken from the credit
    assert await desk.balance(patron) == "-17.75"
    handed = await desk.api.post(payout, json={"amount": "17.75"})
    assert handed.status_code == 201, handed.text
    assert handed.json()["kind"] == "payout" and handed.json()["amount"] == "17.75"
    assert await desk.balance(patron) == "0.00"
    assert reasons(await desk.api.post(payout, json={"amount": "0.01"})) == [
        "PAYOUT_EXCEEDS_CREDIT"
    ]
    assert (await desk.events())["CreditPaidOut"] == 1


async def test_due_soon_notice_three_days_ahead_once_per_due_date(
    desk: Circulation, clock: MutableClock, shelfmark: Shelfmark
) -> None:
    book, patron = await desk.book(), await desk.patron()
    loan = await desk.lend(book, patron)  # due Monday 16th
    clock.set(at(12, 3))  # four days ahead: not yet
    await shelfmark.run_daily_jobs()
    assert (await desk.events())["LoanFallingDue"] == 0
    clock.set(at(13, 3))  # three days ahead
    await shelfmark.run_daily_jobs()
    await shelfmark.run_daily_jobs()
    assert (await desk.events())["LoanFallingDue"] == 1
    await desk.api.post(f"/loans/{loan['id']}/renew")  # due 30th: a new notice later
    clock.set(at(27, 3))
    await shelfmark.run_daily_jobs()
    assert (await desk.events())["LoanFallingDue"] == 2


# --- Holds -----------------------------------------------------------------------------------


async def test_a_hold_is_ready_at_once_when_a_copy_is_on_the_shelf(desk: Circulation) -> None:
    book, patron = await desk.book(), await desk.patron()
    hold = await desk.queue(book, patron)
    assert hold["status"] == "ready"
    assert hold["pickup_deadline"] == "2026-03-09T23:59:59Z"
    shown = await desk.get(f"/books/{book['id']}")
    assert (shown["status"], shown["copies"][0]["status"]) == ("on_hold_shelf", "on_hold_shelf")
    assert reasons(await desk.borrow(book, await desk.patron())) == ["COPY_HELD_FOR_ANOTHER_PATRON"]


async def test_first_come_first_served_with_positions(
    desk: Circulation, clock: MutableClock
) -> None:
    book, reader = await desk.book(), await desk.patron()
    loan = await desk.lend(book, reader)
    early, late = await desk.patron(), await desk.patron()
    clock.set(at(3, 9, 0))
    first = await desk.queue(book, early)
    clock.set(at(3, 9, 5))
    second = await desk.queue(book, late)
    assert (first["position"], first["queue_length"]) == (1, 1)
    first = await desk.get(f"/holds/{first['id']}")
    assert (first["position"], first["queue_length"]) == (1, 2)
    assert (second["position"], second["queue_length"]) == (2, 2)
    await desk.give_back(loan)
    assert (await desk.get(f"/holds/{first['id']}"))["status"] == "ready"
    after = await desk.get(f"/holds/{second['id']}")
    assert (after["status"], after["position"], after["queue_length"]) == ("waiting", 1, 1)
    patron = await desk.get(f"/patrons/{late['id']}")
    assert [(h["position"], h["queue_length"]) for h in patron["holds"]] == [(1, 1)]


async def test_a_pickup_deadline_on_a_closed_day_moves_to_the_next_open_day(
    desk: Circulation, clock: MutableClock
) -> None:
    book, reader, waiting = await desk.book(), await desk.patron(), await desk.patron()
    loan = await desk.lend(book, reader)
    hold = await desk.queue(book, waiting)
    clock.set(at(8, 12))  # returned on Sunday 8th: 7 days on is Sunday 15th
    await desk.give_back(loan)
    ready = await desk.get(f"/holds/{hold['id']}")
    assert ready["pickup_deadline"] == "2026-03-16T23:59:59Z"
    assert (await desk.events())["HoldReadyForPickup"] == 1


async def test_borrowing_the_kept_copy_fulfils_the_hold(desk: Circulation) -> None:
    book, patron = await desk.book(), await desk.patron()
    hold = await desk.queue(book, patron)
    loan = await desk.lend(book, patron)
    assert loan["copy_id"] == hold["copy_id"]
    assert (await desk.get(f"/holds/{hold['id']}"))["status"] == "fulfilled"
    assert (await desk.events())["HoldFulfilled"] == 1


async def test_hold_refusals(desk: Circulation, shelfmark: Shelfmark) -> None:
    book, patron = await desk.book(), await desk.patron()
    await desk.queue(book, patron)
    assert reasons(await desk.hold(book, patron)) == ["DUPLICATE_HOLD"]
    borrowed = await desk.book(title="Borrowed")
    await desk.lend(borrowed, patron)
    assert reasons(await desk.hold(borrowed, patron)) == ["ALREADY_ON_LOAN_TO_PATRON"]
    assert reasons(await desk.hold(await desk.book(), patron, open_ended=True)) == [
        "OPEN_ENDED_NOT_ALLOWED"
    ]
    restricted = await desk.book(circulation="restricted")
    assert reasons(await desk.hold(restricted, patron)) == ["RESTRICTED_FOR_CATEGORY"]
    researcher = await desk.patron("researcher")
    assert (await desk.hold(restricted, researcher)).status_code == 201
    for n in range(4):  # five active holds with the first
        await desk.queue(await desk.book(title=f"More {n}"), patron)
    assert reasons(await desk.hold(await desk.book(), patron)) == ["MAX_HOLDS_REACHED"]
    await desk.api.post(f"/patrons/{patron['id']}/suspend", json={"reason": "x"})
    assert "PATRON_SUSPENDED" in reasons(await desk.hold(await desk.book(), patron))


async def test_an_uncollected_hold_expires_and_its_copy_goes_to_the_next_in_line(
    desk: Circulation, clock: MutableClock, shelfmark: Shelfmark
) -> None:
    book, first, second = await desk.book(), await desk.patron(), await desk.patron()
    ready = await desk.queue(book, first)  # deadline Monday 9th 23:59:59
    waiting = await desk.queue(book, second)
    clock.set(at(9, 23))
    await shelfmark.run_daily_jobs()
    assert (await desk.get(f"/holds/{ready['id']}"))["status"] == "ready"
    clock.set(at(10, 2))
    await shelfmark.run_daily_jobs()
    await shelfmark.run_daily_jobs()
    assert (await desk.get(f"/holds/{ready['id']}"))["status"] == "expired"
    passed_on = await desk.get(f"/holds/{waiting['id']}")
    assert (passed_on["status"], passed_on["pickup_deadline"]) == ("ready", "2026-03-17T23:59:59Z")
    assert (await desk.events())["HoldExpired"] == 1


async def test_a_waiting_hold_expires_after_365_days_unless_open_ended(
    desk: Circulation, clock: MutableClock, shelfmark: Shelfmark
) -> None:
    book = await desk.book()
    await desk.lend(book, await desk.patron())
    regular, researcher = await desk.patron(), await desk.patron("researcher")
    plain = await desk.queue(book, regular)
    forever = (await desk.hold(book, researcher, open_ended=True)).json()
    assert forever["expires_at"] is None
    clock.advance(days=366)
    await shelfmark.run_daily_jobs()
    assert (await desk.get(f"/holds/{plain['id']}"))["status"] == "expired"
    assert (await desk.get(f"/holds/{forever['id']}"))["status"] == "waiting"


async def test_cancelling_a_ready_hold_passes_the_copy_on_and_ended_holds_never_change(
    desk: Circulation,
) -> None:
    book, first, second = await desk.book(), await desk.patron(), await desk.patron()
    ready = await desk.queue(book, first)
    waiting = await desk.queue(book, second)
    cancelled = await desk.api.post(f"/holds/{ready['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert (await desk.get(f"/holds/{waiting['id']}"))["status"] == "ready"
    assert reasons(await desk.api.post(f"/holds/{ready['id']}/cancel")) == ["HOLD_NOT_ACTIVE"]


# --- Fees ------------------------------------------------------------------------------------


async def test_the_ledger_payments_waivers_and_the_block_at_ten(
    desk: Circulation, clock: MutableClock
) -> None:
    patron = await desk.patron()
    for n in range(2):
        loan = await desk.lend(await desk.book(title=f"Late {n}"), patron)
        clock.set(at(15, month=5))
        await desk.give_back(loan)  # 5.00 each
        clock.set(at(2))
    assert await desk.balance(patron) == "10.00"
    assert "FEE_BALANCE_LIMIT" in reasons(await desk.borrow(await desk.book(), patron))
    paid = await desk.api.post(f"/patrons/{patron['id']}/payments", json={"amount": "0.01"})
    assert paid.status_code == 201
    assert (await desk.borrow(await desk.book(), patron)).status_code == 201  # 9.99 is fine
    too_much = await desk.api.post(f"/patrons/{patron['id']}/payments", json={"amount": "9.98"})
    assert too_much.status_code == 201
    waived = await desk.api.post(
        f"/patrons/{patron['id']}/waivers", json={"amount": "0.01", "reason": "goodwill"}
    )
    assert waived.status_code == 201
    assert await desk.balance(patron) == "0.00"
    over = await desk.api.post(f"/patrons/{patron['id']}/payments", json={"amount": "0.01"})
    assert reasons(over) == ["PAYMENT_EXCEEDS_BALANCE"]
    kinds = [e["kind"] for e in (await desk.get(f"/patrons/{patron['id']}/account"))["entries"]]
    assert kinds == ["overdue_fine", "overdue_fine", "payment", "payment", "waiver"]


async def test_two_overdue_loans_block_borrowing(desk: Circulation, clock: MutableClock) -> None:
    patron = await desk.patron()
    await desk.lend(await desk.book(), patron)
    clock.set(at(17))
    assert (await desk.borrow(await desk.book(), patron)).status_code == 201  # one overdue: fine
    clock.set(at(1, month=4))  # now both are overdue
    assert reasons(await desk.borrow(await desk.book(), patron)) == ["OVERDUE_LIMIT"]


# --- The desk's day, end to end --------------------------------------------------------------


async def test_borrow_hold_return_ready_borrow_fulfils(desk: Circulation) -> None:
    book, ada, bob = await desk.book(), await desk.patron(), await desk.patron()
    loan = await desk.lend(book, ada)
    hold = await desk.queue(book, bob)
    assert (hold["status"], hold["position"]) == ("waiting", 1)
    await desk.give_back(loan)
    ready = await desk.get(f"/holds/{hold['id']}")
    assert ready["status"] == "ready"
    assert reasons(await desk.borrow(book, ada)) == ["COPY_HELD_FOR_ANOTHER_PATRON"]
    bobs = await desk.lend(book, bob)
    assert bobs["copy_id"] == ready["copy_id"]
    assert (await desk.get(f"/holds/{hold['id']}"))["status"] == "fulfilled"
    assert (await desk.get(f"/books/{book['id']}"))["status"] == "borrowed"


async def test_the_daily_job_run_twice_emits_each_event_once(
    desk: Circulation, clock: MutableClock, shelfmark: Shelfmark
) -> None:
    """Overdue, lost, due-soon and an uncollected hold on one day; the second run adds nothing."""
    reader, holder = await desk.patron(), await desk.patron()
    lost = await desk.lend(await desk.book(title="Long gone"), reader)  # due 16 March
    clock.set(at(10, month=4))
    overdue = await desk.lend(await desk.book(title="Late"), reader)  # due 24 April
    clock.set(at(22, month=4))
    await desk.lend(await desk.book(title="Soon"), holder)  # due 6 May
    uncollected = await desk.queue(await desk.book(title="Kept"), holder)  # deadline 29 April
    clock.set(at(3, 3, month=5))

    first = await shelfmark.run_daily_jobs()
    after_first = await desk.events()
    second = await shelfmark.run_daily_jobs()

    assert first.changed == {
        "register_overdue": 2,
        "age_to_lost": 1,
        "due_soon_notices": 1,
        "expire_holds": 1,
    }
    assert second.changed == dict.fromkeys(first.changed, 0)
    assert await desk.events() == after_first
    assert (await desk.get(f"/loans/{lost['id']}"))["status"] == "lost"
    assert (await desk.get(f"/loans/{overdue['id']}"))["status"] == "overdue"
    assert (await desk.get(f"/holds/{uncollected['id']}"))["status"] == "expired"


async def test_a_copy_on_the_hold_shelf_is_not_listed_as_available(desk: Circulation) -> None:
    book, patron = await desk.book(), await desk.patron()
    await desk.queue(book, patron)
    await settle(desk.shelfmark)
    listed = (await desk.get("/books?available=true"))["items"]
    assert book["id"] not in [b["id"] for b in listed]
    kept = (await desk.get("/books?available=false"))["items"]
    assert [(b["id"], b["status"]) for b in kept] == [(book["id"], "on_hold_shelf")]


async def test_a_loan_aged_to_lost_is_not_renewed(
    desk: Circulation, clock: MutableClock, shelfmark: Shelfmark
) -> None:
    book, patron = await desk.book(), await desk.patron()
    loan = await desk.lend(book, patron)
    clock.set(at(20, month=4))
    await shelfmark.run_daily_jobs()
    paid = await desk.api.post(f"/patrons/{patron['id']}/payments", json={"amount": "30.00"})
    assert paid.status_code == 201  # replacement and processing fee settled
    assert reasons(await desk.api.post(f"/loans/{loan['id']}/renew")) == ["LOAN_LOST"]

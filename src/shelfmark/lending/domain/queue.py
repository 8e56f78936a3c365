"""A book's hold queue: who may join it, and which waiting hold a freed copy goes to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from shelfmark.lending.domain.checkout import REFERENCE, ShelfCopy
from shelfmark.lending.domain.errors import HoldRefused
from shelfmark.lending.domain.holds import Hold, HoldStatus
from shelfmark.lending.domain.rules import RENEWAL_RULES, Standing, failing
from shelfmark.seedwork.domain import Reason

#: Holds are refused to a blocked patron: the borrowing rules except the loan limit.
HOLD_RULES = RENEWAL_RULES


def hold_refusals(
    *,
    book_id: UUID,
    copies: Sequence[ShelfCopy],
    standing: Standing,
    active_holds: Sequence[Hold],
    has_book_on_loan: bool,
    open_ended: bool,
) -> list[Reason]:
    """Every reason this patron may not queue for this book, all at once."""
    reasons = failing(HOLD_RULES, standing)
    category = standing.category
    if category.max_holds is not None and len(active_holds) >= category.max_holds:
        reasons.append(
            Reason("MAX_HOLDS_REACHED", f"the patron already has {category.max_holds} holds")
        )
    if any(h.book_id == book_id for h in active_holds):
        reasons.append(Reason("DUPLICATE_HOLD", "the patron already has a hold on this book"))
    if has_book_on_loan:
        reasons.append(Reason("ALREADY_ON_LOAN_TO_PATRON", "the patron has this book on loan"))
    if open_ended and not category.open_ended_holds:
        reasons.append(Reason("OPEN_ENDED_NOT_ALLOWED", "open-ended holds are for researchers"))
    if copies and not any(c.may_go_to(category.restricted_copies) for c in copies):
        if all(c.circulation == REFERENCE for c in copies):
            reasons.append(Reason("REFERENCE_ONLY", "the book is for reference only"))
        else:
            reasons.append(
                Reason("RESTRICTED_FOR_CATEGORY", "the book is lent to researchers only")
            )
    return reasons


def place_hold(
    *,
    book_id: UUID,
    copies: Sequence[ShelfCopy],
    standing: Standing,
    active_holds: Sequence[Hold],
    waiting: Sequence[Hold],
    has_book_on_loan: bool,
    open_ended: bool,
    queue_number: int,
    now: datetime,
    actor: str,
) -> Hold:
    """Queues the patron; a suitable copy on the shelf is kept for them at once, unless an
    earlier waiting hold may take it (a copy added to the catalog meanwhile goes to the queue
    first: nobody jumps it)."""
    reasons = hold_refusals(
        book_id=book_id,
        copies=copies,
        standing=standing,
        active_holds=active_holds,
        has_book_on_loan=has_book_on_loan,
        open_ended=open_ended,
    )
    if reasons:
        raise HoldRefused(reasons)
    library = standing.policy.library
    restricted_ok = standing.category.restricted_copies
    hold = Hold.place(
        book_id=book_id,
        patron_id=standing.borrower.patron_id,
        queue_number=queue_number,
        restricted_ok=restricted_ok,
        open_ended=open_ended,
        expiry_days=library.hold_expiry_days,
        now=now,
        actor=actor,
    )
    free = [c for c in copies if c.on_shelf]
    for copy in list(free):
        if (earlier := next_in_line(waiting, copy)) is not None:
            earlier.make_ready(
                copy.copy_id, library.calendar, library.pickup_window_days, now, actor
            )
            free.remove(copy)
    on_shelf = next((c for c in free if c.may_go_to(restricted_ok)), None)
    if on_shelf is not None:
        hold.make_ready(on_shelf.copy_id, library.calendar, library.pickup_window_days, now, actor)
    return hold


def next_in_line(waiting: Sequence[Hold], copy: ShelfCopy) -> Hold | None:
    """The first waiting hold, in queue order, that this copy may fill."""
    for hold in sorted(waiting, key=lambda h: h.queue_number):
        if hold.status is HoldStatus.WAITING and copy.may_go_to(hold.restricted_ok):
            return hold
    return None


def holds_waiting_refusal(waiting: int, on_shelf: int) -> Reason | None:
    """A loan is not renewed while more patrons wait for the book than copies sit on the shelf."""
    if waiting > on_shelf:
        return Reason("HOLDS_WAITING", f"{waiting} patrons are waiting for this book")
    return None

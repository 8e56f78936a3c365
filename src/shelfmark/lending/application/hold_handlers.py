"""Hold command handlers: join a book's queue, leave it."""

from __future__ import annotations

from shelfmark.lending.application.circulation import offer_freed_copy
from shelfmark.lending.application.commands import CancelHold, PlaceHold
from shelfmark.lending.application.ports import LendingUnitOfWork
from shelfmark.lending.application.resolve import standing_of
from shelfmark.lending.domain.errors import BookNotFound, HoldNotFound
from shelfmark.lending.domain.holds import HoldId
from shelfmark.lending.domain.policies import LendingPolicy
from shelfmark.lending.domain.queue import place_hold as queue_up
from shelfmark.seedwork.clock import Clock


async def place_hold(
    command: PlaceHold, uow: LendingUnitOfWork, clock: Clock, policy: LendingPolicy
) -> HoldId:
    now = clock.now()
    async with uow:
        copies = await uow.copies.shelf_copies(command.book_id)
        if copies is None:
            raise BookNotFound(f"no book {command.book_id}")
        hold = queue_up(
            book_id=command.book_id,
            copies=copies,
            standing=await standing_of(uow, command.patron_id, policy, now),
            active_holds=await uow.holds.active_for_patron(command.patron_id),
            waiting=await uow.holds.waiting_for_book(command.book_id),
            has_book_on_loan=await uow.loans.has_open_loan_of(command.patron_id, command.book_id),
            open_ended=command.open_ended,
            queue_number=await uow.holds.next_queue_number(command.book_id),
            now=now,
            actor=command.actor,
        )
        uow.holds.add(hold)
        await uow.commit()
    return hold.id


async def cancel_hold(
    command: CancelHold, uow: LendingUnitOfWork, clock: Clock, policy: LendingPolicy
) -> HoldId:
    """A ready hold's copy goes to the next in line at once."""
    now = clock.now()
    async with uow:
        hold = await uow.holds.get(command.hold_id)
        if hold is None:
            raise HoldNotFound(f"no hold {command.hold_id}")
        await uow.copies.shelf_copies(hold.book_id)  # takes the title's turn before changing it
        freed = hold.cancel(now, command.actor)
        if freed is not None:
            await offer_freed_copy(uow, hold.book_id, freed, policy, now, command.actor)
        await uow.commit()
    return hold.id

"""Patron command handlers."""

from __future__ import annotations

from shelfmark.patrons.application.commands import (
    RegisterPatron,
    ReinstatePatron,
    RenewMembership,
    SuspendPatron,
    UpgradePatron,
)
from shelfmark.patrons.application.ports import PatronsUnitOfWork
from shelfmark.patrons.domain.errors import EmailTaken, PatronNotFound
from shelfmark.patrons.domain.model import Membership, Patron, PatronId, parse_category
from shelfmark.patrons.domain.values import Email
from shelfmark.seedwork.clock import Clock


async def register_patron(
    command: RegisterPatron, uow: PatronsUnitOfWork, clock: Clock, membership: Membership
) -> PatronId:
    email = Email.parse(command.email)
    category = parse_category(command.category)
    async with uow:
        if await uow.patrons.email_taken(email):
            raise EmailTaken(f"{email.value} is already registered")
        patron = Patron.register(
            first_name=command.first_name,
            last_name=command.last_name,
            email=email,
            category=category,
            membership=membership,
            now=clock.now(),
            actor=command.actor,
        )
        uow.patrons.add(patron)
        await uow.commit()
    return patron.id


async def _load(uow: PatronsUnitOfWork, patron_id: PatronId) -> Patron:
    patron = await uow.patrons.get(patron_id)
    if patron is None:
        raise PatronNotFound(f"no patron {patron_id}")
    return patron


async def suspend_patron(command: SuspendPatron, uow: PatronsUnitOfWork, clock: Clock) -> None:
    async with uow:
        patron = await _load(uow, PatronId(command.patron_id))
        patron.suspend(command.reason, clock.now(), command.actor)
        await uow.commit()


async def reinstate_patron(command: ReinstatePatron, uow: PatronsUnitOfWork, clock: Clock) -> None:
    async with uow:
        patron = await _load(uow, PatronId(command.patron_id))
        patron.reinstate(clock.now(), command.actor)
        await uow.commit()


async def upgrade_patron(command: UpgradePatron, uow: PatronsUnitOfWork, clock: Clock) -> None:
    category = parse_category(command.category)
    async with uow:
        patron = await _load(uow, PatronId(command.patron_id))
        patron.upgrade(category, clock.now(), command.actor)
        await uow.commit()


async def renew_membership(
    command: RenewMembership, uow: PatronsUnitOfWork, clock: Clock, membership: Membership
) -> None:
    async with uow:
        patron = await _load(uow, PatronId(command.patron_id))
        patron.renew_membership(membership, clock.now(), command.actor)
        await uow.commit()

"""On PostgreSQL a checkout holds its patron's row lock until it ends, so one patron's
concurrent checkouts take turns and the loan limit cannot be overrun (SQLite's write
transactions are serial already)."""

from __future__ import annotations

import uuid
from datetime import UTC

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from shelfmark.lending.infrastructure.unit_of_work import SqlAlchemyLendingUnitOfWork
from shelfmark.patrons.domain.model import Membership, Patron
from shelfmark.patrons.domain.values import Email, PatronCategory
from shelfmark.patrons.infrastructure.orm import patrons
from shelfmark.patrons.infrastructure.unit_of_work import SqlAlchemyPatronsUnitOfWork
from shelfmark.seedwork.infrastructure.database import Engines
from tests.support.clock import MONDAY


async def test_a_checkout_locks_its_patron_until_it_ends(postgres_engines: Engines) -> None:
    patron = Patron.register(
        first_name="Ada",
        last_name="Lovelace",
        email=Email(f"{uuid.uuid4().hex}@example.org"),
        category=PatronCategory.REGULAR,
        membership=Membership(3, UTC),
        now=MONDAY,
        actor="desk",
    )
    async with SqlAlchemyPatronsUnitOfWork(postgres_engines.write) as uow:
        uow.patrons.add(patron)
        await uow.commit()

    nowait = select(patrons.c.id).where(patrons.c.id == patron.id).with_for_update(nowait=True)
    async with SqlAlchemyLendingUnitOfWork(postgres_engines.write) as checkout:
        assert await checkout.patrons.borrower(patron.id) is not None
        async with postgres_engines.write.connect() as other:
            with pytest.raises(DBAPIError, match="could not obtain lock"):
                await other.execute(nowait)
    async with postgres_engines.write.connect() as other:
        assert await other.scalar(nowait) == patron.id  # free again once the checkout ended

"""Only a unique-key clash is a concurrency conflict worth retrying; other integrity errors
are bugs and surface as errors."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from shelfmark.lending.infrastructure.unit_of_work import SqlAlchemyLendingUnitOfWork
from shelfmark.seedwork.application import ConcurrencyConflict
from shelfmark.seedwork.infrastructure.database import Engines
from shelfmark.seedwork.money import Money
from tests.support.clock import MONDAY


async def test_a_foreign_key_violation_is_not_taken_for_a_conflict(engines: Engines) -> None:
    unknown_patron = uuid.uuid4()
    async with SqlAlchemyLendingUnitOfWork(engines.write) as uow:
        account = await uow.accounts.for_patron(unknown_patron)
        account.assess_fine(uuid.uuid4(), Money(100), MONDAY, "desk")
        with pytest.raises(IntegrityError) as error:
            await uow.commit()
    assert not isinstance(error.value, ConcurrencyConflict)

"""Only a unique-key clash is a concurrency conflict worth retrying; other integrity errors
are bugs and surface as errors. A row written with a column its table lacks is refused, though
the statements take their values as parameters, which SQLAlchemy would let pass."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from shelfmark.lending.infrastructure.orm import fee_accounts
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


async def test_a_row_written_with_a_column_its_table_lacks_is_refused(engines: Engines) -> None:
    async with SqlAlchemyLendingUnitOfWork(engines.write) as uow:
        account = await uow.accounts.for_patron(uuid.uuid4())
        with pytest.raises(ValueError, match=r"fee_accounts has no column balance$"):
            await uow.accounts._insert_row(fee_accounts, patron_id=account.id, balance=100)
        with pytest.raises(ValueError, match=r"fee_accounts has no column balance, due$"):
            await uow.accounts._update_versioned(
                fee_accounts, fee_accounts.c.patron_id, account, {"balance": 100, "due": 1}
            )

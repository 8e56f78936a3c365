"""Loan and fee-account repositories over SQLAlchemy Core."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shelfmark.lending.domain.fees import EntryKind, FeeAccount, LedgerEntry
from shelfmark.lending.domain.fines import FineTerms
from shelfmark.lending.domain.model import Loan, LoanId, LoanStatus, LoanTerms
from shelfmark.lending.infrastructure.orm import fee_accounts, ledger_entries, loans
from shelfmark.seedwork.infrastructure.types import UtcDateTime
from shelfmark.seedwork.infrastructure.unit_of_work import SqlRepository
from shelfmark.seedwork.money import Money

# The statements of the command path, built once with their values as parameters: building a
# statement and its cache key cost more than SQLite takes to answer it.
_LOAN = select(loans).where(loans.c.id == bindparam("loan_id"))
_OPEN_FOR_BOOK = select(loans).where(
    loans.c.book_id == bindparam("book_id"), loans.c.returned_at.is_(None)
)
_RECORD = select(
    func.count(), func.count().filter(loans.c.due_at < bindparam("now", type_=UtcDateTime()))
).where(loans.c.patron_id == bindparam("patron_id"), loans.c.returned_at.is_(None))
_ACCOUNT_VERSION = select(fee_accounts.c.version).where(
    fee_accounts.c.patron_id == bindparam("patron_id")
)
#: A patron's ledger in order (the account's load, and `readers.py`'s account view).
LEDGER_OF_PATRON = (
    select(ledger_entries)
    .where(ledger_entries.c.patron_id == bindparam("patron_id"))
    .order_by(ledger_entries.c.seq)
)


class SqlAlchemyLoanRepository(SqlRepository[Loan]):
    async def get(self, loan_id: UUID) -> Loan | None:
        if loan_id in self._seen:
            return self._seen[loan_id]
        row = (await self.connection.execute(_LOAN, {"loan_id": loan_id})).first()
        return self._track(loan_from_row(row)) if row else None

    def add(self, loan: Loan) -> None:
        self._track(loan, new=True)

    async def open_for_book(self, book_id: UUID) -> list[Loan]:
        rows = await self.connection.execute(_OPEN_FOR_BOOK, {"book_id": book_id})
        return [self._seen.get(r.id) or self._track(loan_from_row(r)) for r in rows]

    async def last_returned_for_book(self, book_id: UUID) -> Loan | None:
        row = (
            await self.connection.execute(
                select(loans)
                .where(loans.c.book_id == book_id, loans.c.returned_at.is_not(None))
                .order_by(loans.c.returned_at.desc(), loans.c.id.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            return None
        return self._seen.get(row.id) or self._track(loan_from_row(row))

    async def open_ids_due_before(
        self, instant: datetime, status: LoanStatus | None = None
    ) -> list[UUID]:
        """Open loans due before `instant`, of one status if given: the daily jobs' candidates."""
        query = select(loans.c.id).where(loans.c.returned_at.is_(None), loans.c.due_at < instant)
        if status is not None:
            query = query.where(loans.c.status == status.value)
        return list((await self.connection.scalars(query.order_by(loans.c.due_at))).all())

    async def has_open_loan_of(self, patron_id: UUID, book_id: UUID) -> bool:
        query = select(loans.c.id).where(
            loans.c.patron_id == patron_id,
            loans.c.book_id == book_id,
            loans.c.returned_at.is_(None),
        )
        return (await self.connection.scalar(query.limit(1))) is not None

    async def record_of(self, patron_id: UUID, now: datetime) -> tuple[int, int]:
        values = {"patron_id": patron_id, "now": now}
        open_loans, overdue = (await self.connection.execute(_RECORD, values)).one()
        return int(open_loans), int(overdue)

    async def _insert(self, loan: Loan) -> None:
        terms = loan.terms
        await self._insert_row(
            loans,
            id=loan.id,
            book_id=loan.book_id,
            copy_id=loan.copy_id,
            barcode=loan.barcode,
            patron_id=loan.patron_id,
            borrowed_at=loan.borrowed_at,
            renewals_allowed=terms.renewals_allowed,
            loan_period_days=terms.loan_period_days,
            fine_per_day_cents=terms.fines.per_day.cents,
            fine_grace_days=terms.fines.grace_days,
            fine_cap_cents=terms.fines.cap.cents,
            replacement_cost_cents=loan.replacement_cost.cents,
            version=loan.version + 1,
            **_mutable(loan),
        )

    async def _update(self, loan: Loan) -> None:
        await self._update_versioned(loans, loans.c.id, loan, _mutable(loan))


def _mutable(loan: Loan) -> dict[str, Any]:
    return {
        "due_at": loan.due_at,
        "returned_at": loan.returned_at,
        "status": loan.status.value,
        "renewals_used": loan.renewals_used,
        "fines_assessed_cents": loan.fines_assessed.cents,
        "fine_cents": loan.fine.cents if loan.fine is not None else None,
        "lost_at": loan.lost_at,
        "due_soon_notice_for": loan.due_soon_notice_for,
    }


def loan_from_row(row: Row[Any]) -> Loan:
    loan = Loan(
        LoanId(row.id),
        book_id=row.book_id,
        copy_id=row.copy_id,
        barcode=row.barcode,
        patron_id=row.patron_id,
        borrowed_at=row.borrowed_at,
        due_at=row.due_at,
        terms=LoanTerms(
            loan_period_days=row.loan_period_days,
            renewals_allowed=row.renewals_allowed,
            fines=FineTerms(
                per_day=Money(row.fine_per_day_cents),
                grace_days=row.fine_grace_days,
                cap=Money(row.fine_cap_cents),
            ),
        ),
        replacement_cost=Money(row.replacement_cost_cents),
        renewals_used=row.renewals_used,
        fines_assessed=Money(row.fines_assessed_cents),
        returned_at=row.returned_at,
        status=LoanStatus(row.status),
        fine=Money(row.fine_cents) if row.fine_cents is not None else None,
        lost_at=row.lost_at,
        due_soon_notice_for=row.due_soon_notice_for,
    )
    loan.version = row.version
    return loan


class SqlAlchemyFeeAccountRepository(SqlRepository[FeeAccount]):
    def __init__(self, connection: AsyncConnection) -> None:
        super().__init__(connection)
        self._stored_entries: dict[UUID, int] = {}

    async def for_patron(self, patron_id: UUID) -> FeeAccount:
        if patron_id in self._seen:
            return self._seen[patron_id]
        version = await self.connection.scalar(_ACCOUNT_VERSION, {"patron_id": patron_id})
        if version is None:
            self._stored_entries[patron_id] = 0
            return self._track(FeeAccount(patron_id), new=True)
        rows = await self.connection.execute(LEDGER_OF_PATRON, {"patron_id": patron_id})
        entries = [
            LedgerEntry(r.id, EntryKind(r.kind), Money(r.amount_cents), r.at, r.loan_id)
            for r in rows
        ]
        account = FeeAccount(patron_id, entries)
        account.version = version
        self._stored_entries[patron_id] = len(entries)
        return self._track(account)

    async def _insert(self, account: FeeAccount) -> None:
        await self._insert_row(
            fee_accounts,
            patron_id=account.id,
            balance_cents=account.balance.cents,
            version=account.version + 1,
        )
        await self._append_entries(account)

    async def _update(self, account: FeeAccount) -> None:
        await self._update_versioned(
            fee_accounts,
            fee_accounts.c.patron_id,
            account,
            {"balance_cents": account.balance.cents},
        )
        await self._append_entries(account)

    async def _append_entries(self, account: FeeAccount) -> None:
        stored = self._stored_entries[account.id]
        new = account.entries[stored:]
        if new:
            await self.connection.execute(
                ledger_entries.insert(),
                [
                    {
                        "id": e.id,
                        "patron_id": account.id,
                        "seq": seq,
                        "kind": e.kind.value,
                        "amount_cents": e.amount.cents,
                        "at": e.at,
                        "loan_id": e.loan_id,
                    }
                    for seq, e in enumerate(new, start=stored)
                ],
            )
        self._stored_entries[account.id] = len(account.entries)

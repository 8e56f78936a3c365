"""A model-based test of the circulation desk: hypothesis plays librarian with random borrows,
returns, renewals, holds, cancellations, payments, new copies, passing time and daily jobs,
driven through `Shelfmark.execute` on a real SQLite database, and after every step checks the
invariants that docs/invariants.md lists. A command the desk refuses (a `DomainError`, a 4xx
at the HTTP edge) is a fine outcome; anything else raised is a failure.

`make test` runs a small budget without shrinking; a long run that shrinks what it finds:
`SHELFMARK_MODEL_EXAMPLES=500 SHELFMARK_MODEL_STEPS=40 SHELFMARK_MODEL_SHRINK=1
.venv/bin/python -m pytest -m model tests/model` (see docs/invariants.md).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import pytest
from hypothesis import Phase, event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.catalog.application.commands import AddBook, AddCopy
from shelfmark.catalog.domain.values import Circulation
from shelfmark.catalog.infrastructure.orm import books as catalog_books
from shelfmark.catalog.infrastructure.orm import copies
from shelfmark.config import Settings
from shelfmark.lending.application.commands import (
    BorrowBook,
    CancelHold,
    PayOutCredit,
    PlaceHold,
    RecordPayment,
    RenewLoan,
    ReturnLoan,
)
from shelfmark.lending.domain.fees import EntryKind
from shelfmark.lending.domain.policies import LendingPolicy
from shelfmark.lending.infrastructure.hold_readers import VIEWED, hold_views
from shelfmark.lending.infrastructure.orm import fee_accounts, holds, ledger_entries, loans
from shelfmark.lending.infrastructure.policy_source import load_policy
from shelfmark.patrons.application.commands import RegisterPatron
from shelfmark.patrons.infrastructure.orm import patrons
from shelfmark.search.infrastructure.index import SqlSearchUnitOfWork
from shelfmark.search.infrastructure.orm import book_search
from shelfmark.seedwork.domain import DomainError
from shelfmark.seedwork.infrastructure.database import create_engines
from shelfmark.seedwork.infrastructure.dead_letters import dead_letters
from tests.support.clock import MutableClock
from tests.support.databases import sqlite_url
from tests.support.events import settle

T = TypeVar("T")

EXAMPLES = int(os.environ.get("SHELFMARK_MODEL_EXAMPLES", "25"))
STEPS = int(os.environ.get("SHELFMARK_MODEL_STEPS", "20"))
#: Shrinking a failure replays whole desk histories (tens of milliseconds a step) and can take
#: hypothesis' full five minutes; `make test` reports the failing history as found (and stores
#: it in .hypothesis/, so the next run replays it first). SHELFMARK_MODEL_SHRINK=1 shrinks it.
SHRINK = os.environ.get("SHELFMARK_MODEL_SHRINK", "0") not in ("", "0")
#: `make faults` runs its long run as two halves side by side, each with a seed of its own
#: (SHELFMARK_MODEL_SEED, passed on as --hypothesis-seed), so that they try different examples
#: even where hypothesis' `ci` profile would derandomize both into the same ones.
SEEDED = os.environ.get("SHELFMARK_MODEL_SEED", "") != ""
MODEL_SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    phases=[phase for phase in Phase if SHRINK or phase is not Phase.shrink],
    **({"derandomize": False} if SEEDED else {}),
)


def small_library(preset: LendingPolicy) -> LendingPolicy:
    """The public_library preset made busier, so that a run of 20 steps over a few books
    reaches its edges: lower per-category limits, and a loan is presumed lost after 7 days
    overdue instead of 30. Every other number (loan periods, renewals, fines, pickup window,
    refund window) is the preset's. The invariants read the app's policy, whatever it is."""
    limits = {"regular": (2, 2), "premium": (3, 3), "researcher": (4, None)}
    return replace(
        preset,
        categories={
            name: replace(category, max_loans=limits[name][0], max_holds=limits[name][1])
            for name, category in preset.categories.items()
        },
        library=replace(preset.library, lost_after_days_overdue=7),
    )


POLICY = small_library(load_policy(None))
CATEGORIES = sorted(POLICY.categories)
#: A book's first copy: circulating, or restricted (a title for researchers only).
FIRST_COPY = st.sampled_from(["circulating", "restricted"])
#: Any further copy: mostly circulating (the shrinker's favourite), some restricted or reference.
MORE_COPIES = st.lists(
    st.sampled_from(["circulating", "circulating", "restricted", "reference"]), max_size=2
)
SHELVES = st.lists(st.tuples(FIRST_COPY, MORE_COPIES), min_size=2, max_size=4)
DEBITS = frozenset(kind.value for kind in EntryKind if kind.is_debit)


async def search_entries(connection: AsyncConnection) -> dict[UUID, dict[str, Any]]:
    found = await connection.execute(select(book_search))
    return {
        row.book_id: {k: v for k, v in row._mapping.items() if k != "refreshed_at"} for row in found
    }


class CirculationDesk(RuleBasedStateMachine):
    books = Bundle("books")
    patrons = Bundle("patrons")
    loans = Bundle("loans")  # open loans: only `return_loan` closes one, and it consumes it
    holds = Bundle("holds")

    def __init__(self, template: Path, workdir: Path) -> None:
        super().__init__()
        # Hypothesis drives the machine synchronously; every coroutine runs on this one loop,
        # which also owns the engines' connections. Not set as the thread's current loop.
        self.runner = asyncio.Runner(loop_factory=asyncio.new_event_loop)
        self.directory = Path(tempfile.mkdtemp(dir=workdir))
        self.clock = MutableClock()
        self.copies_of: Counter[UUID] = Counter()
        self.book_number: dict[UUID, int] = {}
        self.category: dict[UUID, str] = {}
        self.patron_number: dict[UUID, int] = {}
        self.app = self.run(self._open(template))

    async def _open(self, template: Path) -> Shelfmark:
        database = self.directory / "shelfmark.db"
        shutil.copyfile(template, database)
        engines = create_engines(sqlite_url(database))
        settings_ = Settings(var_dir=self.directory)
        return bootstrap(settings_, clock=self.clock, engines=engines, policy=POLICY)

    def teardown(self) -> None:
        try:
            self.run(self.app.dispose())
        finally:
            self.runner.close()
            shutil.rmtree(self.directory, ignore_errors=True)

    # --- plumbing ---------------------------------------------------------------------------

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coroutine)

    def desk(self, command: object) -> Any | None:
        """Runs a command as the desk would; a refusal (a domain error) answers None."""
        name = type(command).__name__
        try:
            result = self.run(self.app.execute(command))
        except DomainError as error:
            codes = [r.code for r in getattr(error, "reasons", [])] or [error.code]
            event(f"{name} refused: {', '.join(sorted(codes))}")
            return None
        event(f"{name} done")
        return result

    def read(self, query: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async def go() -> T:
            async with self.app.engines.read.connect() as connection:
                return await query(connection)

        return self.run(go())

    def rows(self, statement: Select[Any]) -> list[Any]:
        async def query(connection: AsyncConnection) -> list[Any]:
            return list((await connection.execute(statement)).all())

        return self.read(query)

    def owing(self) -> list[tuple[UUID, int]]:
        """Patrons with a positive balance, in the order they registered, with it (cents)."""
        return self.balances(fee_accounts.c.balance_cents > 0)

    def owed(self) -> list[tuple[UUID, int]]:
        """Patrons the library owes (a negative balance: a credit), with it (cents)."""
        return self.balances(fee_accounts.c.balance_cents < 0)

    def balances(self, which: ColumnElement[bool]) -> list[tuple[UUID, int]]:
        accounts = select(fee_accounts.c.patron_id, fee_accounts.c.balance_cents).where(which)
        balances = dict(self.rows(accounts))
        return [(p, balances[p]) for p in self.patron_number if p in balances]

    def add_copy_to(self, book: UUID, circulation: str) -> None:
        self.copies_of[book] += 1
        barcode = f"B{self.book_number[book]:02d}-C{self.copies_of[book]:02d}"
        self.desk(AddCopy(book_id=book, barcode=barcode, circulation=Circulation(circulation)))

    # --- the library on day one -------------------------------------------------------------

    @initialize(target=books, shelves=SHELVES)
    def add_books(self, shelves: list[tuple[str, list[str]]]) -> Any:
        """Books with 1..3 copies each; explicit barcodes keep the copies' order (and so the
        copy a borrow picks) the same when hypothesis replays an example."""
        added = []
        for number, (first, more) in enumerate(shelves, start=1):
            command = AddBook(title=f"Book {number}", author="Model Author", copies=0)
            book = UUID(str(self.run(self.app.execute(command))))
            self.book_number[book] = number
            for circulation in (first, *more):
                self.add_copy_to(book, circulation)
            added.append(book)
        return multiple(*added)

    @initialize(
        target=patrons, categories=st.lists(st.sampled_from(CATEGORIES), min_size=2, max_size=3)
    )
    def register_patrons(self, categories: list[str]) -> Any:
        registered = []
        for number, category in enumerate(categories, start=1):
            command = RegisterPatron(
                first_name="Model",
                last_name=f"Reader{number}",
                email=f"reader{number}@example.org",
                category=category,
            )
            patron = UUID(str(self.run(self.app.execute(command))))
            self.category[patron] = category
            self.patron_number[patron] = number
            registered.append(patron)
        return multiple(*registered)

    # --- what happens at the desk -----------------------------------------------------------

    @rule(target=loans, patron=patrons, book=books)
    def borrow(self, patron: UUID, book: UUID) -> Any:
        loan = self.desk(BorrowBook(book_id=book, patron_id=patron))
        return multiple() if loan is None else loan

    @rule(loan=consumes(loans), back_dated_hours=st.one_of(st.just(0), st.integers(1, 72)))
    def return_loan(self, loan: UUID, back_dated_hours: int) -> None:
        """Returned now, or dropped in the book drop some hours ago (never before the loan)."""
        now = self.clock.now()
        view = self.run(self.app.readers.loans.get(loan, now))
        assert view is not None
        event(f"return of a loan that is {view.status}")
        returned_at = None
        if back_dated_hours:
            returned_at = max(view.borrowed_at, now - timedelta(hours=back_dated_hours))
        self.desk(ReturnLoan(loan_id=loan, returned_at=returned_at))

    @rule(loan=loans)
    def renew(self, loan: UUID) -> None:
        self.desk(RenewLoan(loan_id=loan))

    @rule(target=holds, patron=patrons, book=books, open_ended=st.booleans())
    def place_hold(self, patron: UUID, book: UUID, open_ended: bool) -> Any:
        """Only researchers ask for open-ended holds (anyone else would just be refused)."""
        open_ended = open_ended and self.category[patron] == "researcher"
        hold = self.desk(PlaceHold(book_id=book, patron_id=patron, open_ended=open_ended))
        return multiple() if hold is None else hold

    @rule(hold=consumes(holds))
    def cancel_hold(self, hold: UUID) -> None:
        """A hold already fulfilled or expired is refused; either way it is gone from play."""
        self.desk(CancelHold(hold_id=hold))

    @precondition(lambda self: bool(self.owing()))
    @rule(which=st.integers(0, 3), percent=st.integers(1, 100))
    def pay(self, which: int, percent: int) -> None:
        """One of the patrons who owe something pays `percent` of their balance."""
        owing = self.owing()
        patron, balance = owing[which % len(owing)]
        note(f"patron {self.patron_number[patron]} pays {percent}% of {balance} cents")
        cents = max(1, balance * percent // 100)
        self.desk(RecordPayment(patron_id=patron, amount=Decimal(cents).scaleb(-2)))

    @precondition(lambda self: bool(self.owed()))
    @rule(which=st.integers(0, 3), percent=st.integers(1, 100))
    def pay_out(self, which: int, percent: int) -> None:
        """Staff hand back `percent` of a credit (left by a refund) to a patron it is owed."""
        owed = self.owed()
        patron, balance = owed[which % len(owed)]
        note(f"patron {self.patron_number[patron]} is paid {percent}% of {-balance} cents")
        cents = max(1, -balance * percent // 100)
        self.desk(PayOutCredit(patron_id=patron, amount=Decimal(cents).scaleb(-2)))

    @rule(book=books, circulation=st.sampled_from(["circulating", "restricted", "reference"]))
    def add_copy(self, book: UUID, circulation: str) -> None:
        """A new copy goes to the first waiting hold it may fill once the events are relayed."""
        self.add_copy_to(book, circulation)

    @rule(days=st.integers(0, 30), hours=st.integers(0, 23))
    def let_time_pass(self, days: int, hours: int) -> None:
        """The clock moves on and the scheduler runs the daily jobs; the jobs run twice in a
        row change nothing the second time."""
        self.clock.advance(days=days, hours=hours)
        event(f"time passes: {'hours' if days < 2 else 'days' if days < 11 else 'weeks'}")
        first = self.run(self.app.run_daily_jobs()).changed
        again = self.run(self.app.run_daily_jobs()).changed
        assert not any(again.values()), f"the daily jobs run twice changed {again} ({first})"
        for job, changed in first.items():
            if changed:
                event(f"daily job changed something: {job}")

    # --- invariants (checked after every step; they run in name order) ----------------------

    @invariant()
    def copies_on_loan_plus_on_hold_shelf_plus_on_shelf_equal_copies_total(self) -> None:
        of_book = copies.c.book_id == catalog_books.c.id
        lent = (loans.c.copy_id == copies.c.id) & loans.c.returned_at.is_(None)
        kept = (holds.c.copy_id == copies.c.id) & (holds.c.status == "ready")
        neither = ~select(loans.c.id).where(lent).exists(), ~select(holds.c.id).where(kept).exists()

        def count(*conditions: Any) -> Any:
            return select(func.count()).where(of_book, *conditions).scalar_subquery()

        counts = self.rows(
            select(
                catalog_books.c.id,
                count(lent),  # open loans of the book's copies (two on one copy count twice)
                count(kept),  # ready holds keeping one of its copies
                count(*neither),
                count(),
            )
        )
        for book, on_loan, on_hold_shelf, on_shelf, total in counts:
            assert on_loan + on_hold_shelf + on_shelf == total, (
                f"book {self.book_number.get(book)}: on loan {on_loan} + on the hold shelf"
                f" {on_hold_shelf} + on the shelf {on_shelf}, but it has {total} copies"
            )

    @invariant()
    def no_patron_is_over_their_loan_limit(self) -> None:
        found = self.rows(
            select(patrons.c.category, func.count())
            .join(loans, loans.c.patron_id == patrons.c.id)
            .where(loans.c.returned_at.is_(None))
            .group_by(patrons.c.id, patrons.c.category)
        )
        for category, open_loans in found:
            limit = self.app.policy.for_category(category).max_loans
            assert open_loans <= limit, f"a {category} patron has {open_loans} loans (max {limit})"

    @invariant()
    def no_patron_is_over_their_hold_limit(self) -> None:
        found = self.rows(
            select(patrons.c.category, func.count())
            .join(holds, holds.c.patron_id == patrons.c.id)
            .where(holds.c.status.in_(("waiting", "ready")))
            .group_by(patrons.c.id, patrons.c.category)
        )
        for category, active in found:
            limit = self.app.policy.for_category(category).max_holds
            assert limit is None or active <= limit, (
                f"a {category} patron has {active} active holds (max {limit})"
            )

    @invariant()
    def fee_balance_equals_its_ledger_charges_minus_credits(self) -> None:
        ledger: defaultdict[UUID, int] = defaultdict(int)
        for patron, kind, cents in self.rows(
            select(ledger_entries.c.patron_id, ledger_entries.c.kind, ledger_entries.c.amount_cents)
        ):
            ledger[patron] += cents if kind in DEBITS else -cents
        balances = dict(self.rows(select(fee_accounts.c.patron_id, fee_accounts.c.balance_cents)))
        assert set(ledger) <= set(balances), "ledger entries without a fee account"
        for patron, balance in balances.items():
            assert balance == ledger[patron], (
                f"a fee account says {balance} cents, its ledger sums to {ledger[patron]}"
            )

    @invariant()
    def a_credit_is_never_more_than_refunds_not_paid_out(self) -> None:
        """Payments and waivers never go past what is owed, so only a refund makes the library
        owe a patron, and never more than it refunded them and has not yet paid out."""
        refunded: defaultdict[UUID, int] = defaultdict(int)
        for patron, kind, cents in self.rows(
            select(
                ledger_entries.c.patron_id, ledger_entries.c.kind, ledger_entries.c.amount_cents
            ).where(ledger_entries.c.kind.in_([EntryKind.REFUND, EntryKind.PAYOUT]))
        ):
            refunded[patron] += cents if kind == EntryKind.REFUND else -cents
        for patron, balance in self.owed():
            assert -balance <= refunded[patron], (
                f"the library owes {-balance} cents; it refunded {refunded[patron]} not paid out"
            )

    @invariant()
    def waiting_holds_have_positions_one_to_n_in_placement_order(self) -> None:
        async def waiting(connection: AsyncConnection) -> list[Any]:
            return await hold_views(connection, VIEWED.where(holds.c.status == "waiting"), {})

        queues: defaultdict[UUID, list[Any]] = defaultdict(list)
        for view in self.read(waiting):  # ordered by placement (placed_at, then queue number)
            queues[view.book_id].append(view)
        for book, queue in queues.items():
            positions = [view.position for view in queue]
            assert positions == list(range(1, len(queue) + 1)), (
                f"book {self.book_number.get(book)}: positions in placement order {positions}"
            )
            assert {view.queue_length for view in queue} == {len(queue)}

    @invariant()
    def at_most_one_open_loan_per_copy(self) -> None:
        doubled = self.rows(
            select(loans.c.barcode)
            .where(loans.c.returned_at.is_(None))
            .group_by(loans.c.copy_id, loans.c.barcode)
            .having(func.count() > 1)
        )
        assert not doubled, f"copies lent twice at once: {doubled}"

    @invariant()
    def at_most_one_ready_hold_per_copy(self) -> None:
        doubled = self.rows(
            select(holds.c.copy_id)
            .where(holds.c.status == "ready")
            .group_by(holds.c.copy_id)
            .having(func.count() > 1)
        )
        assert not doubled, f"copies kept for two holds at once: {doubled}"

    @invariant()
    def a_ready_holds_copy_is_not_on_loan(self) -> None:
        both = self.rows(
            select(loans.c.barcode)
            .join(holds, holds.c.copy_id == loans.c.copy_id)
            .where(holds.c.status == "ready", loans.c.returned_at.is_(None))
        )
        assert not both, f"copies on loan and on the hold shelf at once: {both}"

    @invariant()
    def a_ready_hold_keeps_a_copy_of_its_book_that_its_patron_may_take(self) -> None:
        kept = self.rows(
            select(holds.c.book_id, holds.c.restricted_ok, copies.c.book_id, copies.c.circulation)
            .join(copies, copies.c.id == holds.c.copy_id, isouter=True)
            .where(holds.c.status == "ready")
        )
        for hold_book, restricted_ok, copy_book, circulation in kept:
            assert copy_book == hold_book, "a ready hold keeps no copy, or one of another book"
            assert circulation != Circulation.REFERENCE, "a reference copy is on the hold shelf"
            assert restricted_ok or circulation != Circulation.RESTRICTED, (
                "a restricted copy is kept for a patron who may not take it"
            )

    @invariant()
    def search_index_equals_a_rebuild_once_events_are_relayed(self) -> None:
        """The rebuild runs in a transaction that is rolled back, so the projection goes on
        from the index its own events built, never from a rebuild."""

        async def both() -> tuple[dict[UUID, dict[str, Any]], dict[UUID, dict[str, Any]]]:
            await settle(self.app)
            async with SqlSearchUnitOfWork(self.app.engines.write, self.clock) as uow:
                projected = await search_entries(uow.connection)
                await uow.index.rebuild()
                return projected, await search_entries(uow.connection)

        projected, rebuilt = self.run(both())
        assert projected == rebuilt, (
            "the search index the events built differs from a rebuild:\n"
            f" built:   {projected}\n rebuilt: {rebuilt}"
        )

    @invariant()
    def no_event_consumer_gave_up(self) -> None:
        failed = self.rows(select(dead_letters.c.consumer, dead_letters.c.event_type))
        assert not failed, f"dead-lettered events: {failed}"


@pytest.mark.model
def test_the_circulation_desk_keeps_its_invariants(sqlite_template: Path, tmp_path: Path) -> None:
    run_state_machine_as_test(
        lambda: CirculationDesk(sqlite_template, tmp_path), settings=MODEL_SETTINGS
    )

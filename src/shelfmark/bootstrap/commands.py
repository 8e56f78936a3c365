"""Binds each command type to its handler and the dependencies it takes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from shelfmark.access.application import commands as access
from shelfmark.access.application import handlers as access_handlers
from shelfmark.access.infrastructure.repository import SqlAlchemyAccessUnitOfWork
from shelfmark.bootstrap.cache import CacheInvalidation
from shelfmark.catalog.application import commands as catalog
from shelfmark.catalog.application import handlers as catalog_handlers
from shelfmark.catalog.infrastructure.unit_of_work import SqlAlchemyCatalogUnitOfWork
from shelfmark.lending.application import commands as lending
from shelfmark.lending.application import handlers as lending_handlers
from shelfmark.lending.application import hold_handlers
from shelfmark.lending.infrastructure.unit_of_work import SqlAlchemyLendingUnitOfWork
from shelfmark.patrons.application import commands as patrons
from shelfmark.patrons.application import handlers as patron_handlers
from shelfmark.patrons.domain.model import Membership
from shelfmark.patrons.infrastructure.unit_of_work import SqlAlchemyPatronsUnitOfWork

if TYPE_CHECKING:
    from shelfmark.bootstrap.container import Shelfmark

Handler = Callable[[Any], Awaitable[Any]]


def command_handlers(app: Shelfmark) -> dict[type, Handler]:
    """Every unit of work a command opens makes this process's read cache forget what its
    events changed as soon as it commits (read-your-writes for the desk)."""
    engine = app.engines.write
    forget = CacheInvalidation(app.cache).after_commit

    def catalog_uow() -> SqlAlchemyCatalogUnitOfWork:
        return SqlAlchemyCatalogUnitOfWork(engine, after_commit=forget)

    def patrons_uow() -> SqlAlchemyPatronsUnitOfWork:
        return SqlAlchemyPatronsUnitOfWork(engine, after_commit=forget)

    def lending_uow() -> SqlAlchemyLendingUnitOfWork:
        return SqlAlchemyLendingUnitOfWork(engine, after_commit=forget)

    def membership() -> Membership:
        library = app.policy.library
        return Membership(library.membership_years, ZoneInfo(library.timezone))

    def access_uow() -> SqlAlchemyAccessUnitOfWork:
        return SqlAlchemyAccessUnitOfWork(engine, after_commit=forget)

    return {
        access.CreateStaffUser: lambda c: access_handlers.create_staff_user(
            c, access_uow(), app.clock, app.hasher
        ),
        access.CreatePatronLogin: lambda c: access_handlers.create_patron_login(
            c, access_uow(), app.clock, app.hasher
        ),
        access.DisableUser: lambda c: access_handlers.disable_user(c, access_uow(), app.clock),
        access.ResetPassword: lambda c: access_handlers.reset_password(
            c, access_uow(), app.clock, app.hasher
        ),
        catalog.AddBook: lambda c: catalog_handlers.add_book(c, catalog_uow(), app.clock),
        catalog.AddCopy: lambda c: catalog_handlers.add_copy(c, catalog_uow(), app.clock),
        patrons.RegisterPatron: lambda c: patron_handlers.register_patron(
            c, patrons_uow(), app.clock, membership()
        ),
        patrons.SuspendPatron: lambda c: patron_handlers.suspend_patron(
            c, patrons_uow(), app.clock
        ),
        patrons.ReinstatePatron: lambda c: patron_handlers.reinstate_patron(
            c, patrons_uow(), app.clock
        ),
        patrons.UpgradePatron: lambda c: patron_handlers.upgrade_patron(
            c, patrons_uow(), app.clock
        ),
        patrons.RenewMembership: lambda c: patron_handlers.renew_membership(
            c, patrons_uow(), app.clock, membership()
        ),
        lending.BorrowBook: lambda c: lending_handlers.borrow_book(
            c, lending_uow(), app.clock, app.policy
        ),
        lending.ReturnLoan: lambda c: lending_handlers.return_loan(
            c, lending_uow(), app.clock, app.policy
        ),
        lending.ReturnBook: lambda c: lending_handlers.return_book(
            c, lending_uow(), app.clock, app.policy
        ),
        lending.RenewLoan: lambda c: lending_handlers.renew_loan(
            c, lending_uow(), app.clock, app.policy
        ),
        lending.RecordPayment: lambda c: lending_handlers.record_payment(
            c, lending_uow(), app.clock
        ),
        lending.WaiveFees: lambda c: lending_handlers.waive_fees(c, lending_uow(), app.clock),
        lending.PayOutCredit: lambda c: lending_handlers.pay_out_credit(
            c, lending_uow(), app.clock
        ),
        lending.PlaceHold: lambda c: hold_handlers.place_hold(
            c, lending_uow(), app.clock, app.policy
        ),
        lending.CancelHold: lambda c: hold_handlers.cancel_hold(
            c, lending_uow(), app.clock, app.policy
        ),
    }

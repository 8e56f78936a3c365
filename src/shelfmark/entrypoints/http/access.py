"""Who may call what: one declarative table of route -> rule, enforced by one dependency.

A route without a rule answers 403 to everyone, so a new endpoint is closed until someone
decides who may use it. A patron reaches only their own records: another patron's id answers
404, never 403, so ids cannot be probed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import Depends, HTTPException, Request
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer

from shelfmark.access.domain.model import Role
from shelfmark.bootstrap import Shelfmark
from shelfmark.lending.domain.errors import HoldNotFound, LoanNotFound, PatronNotFound


@dataclass(frozen=True)
class Caller:
    """Who is calling: anonymous (no role), a patron, or staff."""

    actor: str
    role: Role | None = None
    patron_id: uuid.UUID | None = None

    @property
    def is_staff(self) -> bool:
        return self.role is not None and self.role.is_staff


ANONYMOUS = Caller(actor="anonymous")
Rule = Callable[[Caller, Request, Shelfmark], Awaitable[None]]


def _unauthenticated() -> HTTPException:
    return HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})


def _forbidden() -> HTTPException:
    return HTTPException(403, "not allowed")


async def anyone(caller: Caller, request: Request, app: Shelfmark) -> None:
    return None


async def staff(caller: Caller, request: Request, app: Shelfmark) -> None:
    if caller.role is None:
        raise _unauthenticated()
    if not caller.is_staff:
        raise _forbidden()


async def admin(caller: Caller, request: Request, app: Shelfmark) -> None:
    await staff(caller, request, app)
    if caller.role is not Role.ADMIN:
        raise _forbidden()


def _path_id(request: Request, name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(request.path_params[name]))
    except (KeyError, ValueError):
        return None


def staff_or_patron(
    owner: Callable[[Request, Shelfmark], Awaitable[uuid.UUID | None]],
    not_found: Callable[[], Exception],
) -> Rule:
    """Staff, or the patron who owns what the request names (else 404, as if it did not exist)."""

    async def rule(caller: Caller, request: Request, app: Shelfmark) -> None:
        if caller.role is None:
            raise _unauthenticated()
        if caller.is_staff:
            return
        if caller.patron_id is None or await owner(request, app) != caller.patron_id:
            raise not_found()

    return rule


async def _patron_in_path(request: Request, app: Shelfmark) -> uuid.UUID | None:
    return _path_id(request, "patron_id")


async def _loan_owner(request: Request, app: Shelfmark) -> uuid.UUID | None:
    loan_id = _path_id(request, "loan_id")
    loan = await app.readers.loans.get(loan_id, app.clock.now()) if loan_id else None
    return loan.patron_id if loan else None


async def _hold_owner(request: Request, app: Shelfmark) -> uuid.UUID | None:
    hold_id = _path_id(request, "hold_id")
    hold = await app.readers.loans.hold(hold_id) if hold_id else None
    return hold.patron_id if hold else None


async def _patron_in_body(request: Request, app: Shelfmark) -> uuid.UUID | None:
    """The patron a borrow or hold is for: `patron_id`, or the seed API's `borrower_email`."""
    try:
        body: Any = json.loads(await request.body() or b"{}")
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("patron_id"), str):
        try:
            return uuid.UUID(body["patron_id"])
        except ValueError:
            return None
    if isinstance(body.get("borrower_email"), str):
        return await app.readers.patrons.id_by_email(body["borrower_email"])
    return None


def _patron_missing() -> Exception:
    return PatronNotFound("no such patron")


def _loan_missing() -> Exception:
    return LoanNotFound("no such loan")


def _hold_missing() -> Exception:
    return HoldNotFound("no such hold")


own_patron = staff_or_patron(_patron_in_path, _patron_missing)
own_loan = staff_or_patron(_loan_owner, _loan_missing)
own_hold = staff_or_patron(_hold_owner, _hold_missing)
for_themself = staff_or_patron(_patron_in_body, _patron_missing)

ACCESS: dict[tuple[str, str], Rule] = {
    ("POST", "/auth/token"): anyone,
    ("POST", "/auth/refresh"): anyone,
    ("GET", "/health"): anyone,
    ("GET", "/health/ready"): anyone,
    ("GET", "/health/circuit-breakers"): staff,
    ("GET", "/metrics"): anyone,
    ("GET", "/policy"): staff,
    ("GET", "/audit"): admin,
    ("GET", "/books"): anyone,
    ("POST", "/books"): staff,
    ("GET", "/books/{book_id}"): anyone,
    ("POST", "/books/{book_id}/copies"): staff,
    ("POST", "/books/{book_id}/borrow"): for_themself,
    ("POST", "/books/{book_id}/return"): staff,
    ("POST", "/books/{book_id}/holds"): for_themself,
    ("GET", "/patrons"): staff,
    ("POST", "/patrons"): staff,
    ("GET", "/patrons/{patron_id}"): own_patron,
    ("POST", "/patrons/{patron_id}/suspend"): staff,
    ("POST", "/patrons/{patron_id}/reinstate"): staff,
    ("POST", "/patrons/{patron_id}/upgrade"): staff,
    ("POST", "/patrons/{patron_id}/renew-membership"): staff,
    ("GET", "/patrons/{patron_id}/loans"): own_patron,
    ("GET", "/patrons/{patron_id}/holds"): own_patron,
    ("GET", "/patrons/{patron_id}/account"): own_patron,
    ("POST", "/patrons/{patron_id}/payments"): staff,
    ("POST", "/patrons/{patron_id}/waivers"): staff,
    ("POST", "/patrons/{patron_id}/payouts"): staff,
    ("GET", "/loans"): staff,
    ("POST", "/loans"): staff,
    ("GET", "/loans/{loan_id}"): own_loan,
    ("POST", "/loans/{loan_id}/renew"): own_loan,
    ("POST", "/loans/{loan_id}/return"): staff,
    ("GET", "/holds/{hold_id}"): own_hold,
    ("POST", "/holds/{hold_id}/cancel"): own_hold,
}


#: Declares the bearer scheme in OpenAPI (the "Authorize" button of /docs); a missing token
#: is not an error here, since some routes are open to anyone.
bearer_token = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


def _caller(request: Request, token: str | None, app: Shelfmark) -> Caller:
    if token is None:
        if request.headers.get("authorization"):
            raise _unauthenticated()  # another scheme, or a malformed header
        return ANONYMOUS
    principal = app.tokens.verify(token, "access")
    if principal is None:
        raise _unauthenticated()
    return Caller(principal.username, principal.role, principal.patron_id)


def _caller_or_anonymous(request: Request, token: str | None, app: Shelfmark) -> Caller:
    try:
        return _caller(request, token, app)
    except HTTPException:
        return ANONYMOUS


async def authorize(
    request: Request, token: Annotated[str | None, Depends(bearer_token)]
) -> Caller:
    """The one gate every route passes: who is calling, and may they call this route."""
    app = cast(Shelfmark, request.app.state.shelfmark)
    route = request.scope.get("route")
    path = route.path if isinstance(route, APIRoute) else request.url.path
    rule = ACCESS.get((request.method, path))
    if rule is None:
        raise _forbidden()
    if rule is anyone:  # a stale token must not lock anyone out of open routes (or refresh)
        return _caller_or_anonymous(request, token, app)
    caller = _caller(request, token, app)
    await rule(caller, request, app)
    return caller


CallerDep = Annotated[Caller, Depends(authorize)]

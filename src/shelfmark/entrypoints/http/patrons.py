"""Patron endpoints: registration, the desk's view of a patron, state changes."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from shelfmark.access.application.commands import CreatePatronLogin
from shelfmark.bootstrap.cache import patron_key, records_holding
from shelfmark.entrypoints.http.access import CallerDep
from shelfmark.entrypoints.http.cached import Fresh, cached
from shelfmark.entrypoints.http.deps import App
from shelfmark.entrypoints.http.fields import EmailIn, Text
from shelfmark.entrypoints.http.holds import HoldOut
from shelfmark.entrypoints.http.responses import PageOut, page_out
from shelfmark.entrypoints.http.schemas import LoanOut, PatronOut
from shelfmark.lending.application.summaries import borrower_summary
from shelfmark.patrons.application.commands import (
    RegisterPatron,
    ReinstatePatron,
    RenewMembership,
    SuspendPatron,
    UpgradePatron,
)
from shelfmark.patrons.application.queries import PatronFilter
from shelfmark.patrons.domain.errors import PatronNotFound
from shelfmark.seedwork.pagination import PageRequest, decode_cursor

router = APIRouter(tags=["patrons"])

CategoryIn = Literal["regular", "premium", "researcher"]


class NewPatron(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_name: Text = Field(min_length=1, max_length=100)
    last_name: Text = Field(min_length=1, max_length=100)
    email: EmailIn
    category: CategoryIn = Field(
        "regular", validation_alias=AliasChoices("category", "membership_tier")
    )
    password: str | None = Field(
        None, min_length=8, max_length=128, description="Lets the patron log in with the e-mail."
    )


class Suspension(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text = Field(min_length=1, max_length=500)


class Upgrade(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: CategoryIn = Field(validation_alias=AliasChoices("category", "membership_tier"))


class Block(BaseModel):
    code: str
    detail: str


class PatronDetailsOut(PatronOut):
    loans: list[LoanOut]
    holds: list[HoldOut]
    balance: str
    blocks: list[Block]


@router.get("/patrons", response_model=PageOut[PatronOut])
async def list_patrons(
    app: App,
    response: Response,
    q: Annotated[Text | None, Query(max_length=200)] = None,
    category: CategoryIn | None = None,
    suspended: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[Text | None, Query(max_length=1000)] = None,
) -> PageOut[PatronOut]:
    page = await app.readers.patrons.list(
        PatronFilter(q=q, category=category, suspended=suspended),
        PageRequest(limit, decode_cursor(cursor, str, str, UUID)),
    )
    return page_out(response, [PatronOut.of(p) for p in page.items], page.next_cursor)


@router.post("/patrons", status_code=status.HTTP_201_CREATED, response_model=PatronDetailsOut)
async def register_patron(
    body: NewPatron, app: App, caller: CallerDep, response: Response
) -> PatronDetailsOut:
    patron_id = await app.execute(
        RegisterPatron(body.first_name, body.last_name, body.email, body.category, caller.actor)
    )
    if body.password is not None:
        await app.execute(CreatePatronLogin(patron_id, body.email, body.password, caller.actor))
    response.headers["Location"] = f"/patrons/{patron_id}"
    return await _details(app, patron_id)


@router.get("/patrons/{patron_id}", response_model=PatronDetailsOut)
async def get_patron(patron_id: UUID, app: App, request: Request) -> Response:
    """Cached (after the access rule ran), filed under each book the patron holds: another
    patron's hold on it moves this one's place in the queue."""

    async def fresh() -> Fresh:
        details = await _details(app, patron_id)
        return Fresh(details, tags=[records_holding(h.book_id) for h in details.holds])

    return await cached(request, app, patron_key(patron_id), fresh, etag=True)


@router.post("/patrons/{patron_id}/suspend", response_model=PatronDetailsOut)
async def suspend(
    patron_id: UUID, body: Suspension, app: App, caller: CallerDep
) -> PatronDetailsOut:
    await app.execute(SuspendPatron(patron_id, body.reason, caller.actor))
    return await _details(app, patron_id)


@router.post("/patrons/{patron_id}/reinstate", response_model=PatronDetailsOut)
async def reinstate(patron_id: UUID, app: App, caller: CallerDep) -> PatronDetailsOut:
    await app.execute(ReinstatePatron(patron_id, caller.actor))
    return await _details(app, patron_id)


@router.post("/patrons/{patron_id}/upgrade", response_model=PatronDetailsOut)
async def upgrade(patron_id: UUID, body: Upgrade, app: App, caller: CallerDep) -> PatronDetailsOut:
    await app.execute(UpgradePatron(patron_id, body.category, caller.actor))
    return await _details(app, patron_id)


@router.post("/patrons/{patron_id}/renew-membership", response_model=PatronDetailsOut)
async def renew_membership(patron_id: UUID, app: App, caller: CallerDep) -> PatronDetailsOut:
    await app.execute(RenewMembership(patron_id, caller.actor))
    return await _details(app, patron_id)


async def _details(app: App, patron_id: UUID) -> PatronDetailsOut:
    patron = await app.readers.patrons.get(patron_id)
    summary = await borrower_summary(app.readers.loans, patron_id, app.policy, app.clock.now())
    if patron is None or summary is None:
        raise PatronNotFound(f"no patron {patron_id}")
    return PatronDetailsOut(
        **PatronOut.of(patron).model_dump(),
        loans=[LoanOut.of(loan) for loan in summary.loans],
        holds=[HoldOut.of(h) for h in summary.holds],
        balance=str(summary.balance),
        blocks=[Block(code=b.code, detail=b.detail) for b in summary.blocks],
    )

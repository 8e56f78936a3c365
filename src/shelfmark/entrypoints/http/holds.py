"""Hold endpoints: queue for a book, see a hold's place, cancel it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict

from shelfmark.entrypoints.http.access import CallerDep
from shelfmark.entrypoints.http.deps import App
from shelfmark.entrypoints.http.responses import with_etag
from shelfmark.lending.application.commands import CancelHold, PlaceHold
from shelfmark.lending.application.queries import HoldView
from shelfmark.lending.domain.errors import HoldNotFound, PatronNotFound
from shelfmark.seedwork.infrastructure.reading import one_read_connection

router = APIRouter(tags=["holds"])


class NewHold(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patron_id: UUID
    open_ended: bool = False


class HoldOut(BaseModel):
    id: UUID
    book_id: UUID
    patron_id: UUID
    placed_at: datetime
    status: str
    position: int | None
    queue_length: int
    copy_id: UUID | None
    pickup_deadline: datetime | None
    expires_at: datetime | None

    @classmethod
    def of(cls, hold: HoldView) -> HoldOut:
        return cls(**hold.__dict__)


async def _hold(app: App, hold_id: UUID) -> HoldOut:
    hold = await app.readers.loans.hold(hold_id)
    if hold is None:
        raise HoldNotFound(f"no hold {hold_id}")
    return HoldOut.of(hold)


@router.post("/books/{book_id}/holds", status_code=status.HTTP_201_CREATED, response_model=HoldOut)
async def place_hold(
    book_id: UUID, body: NewHold, app: App, caller: CallerDep, response: Response
) -> HoldOut:
    hold_id = await app.execute(PlaceHold(book_id, body.patron_id, body.open_ended, caller.actor))
    response.headers["Location"] = f"/holds/{hold_id}"
    return await _hold(app, hold_id)


@router.get("/holds/{hold_id}", response_model=HoldOut)
async def get_hold(hold_id: UUID, app: App, request: Request) -> Response:
    return with_etag(request, await _hold(app, hold_id))


@router.post("/holds/{hold_id}/cancel", response_model=HoldOut)
async def cancel_hold(hold_id: UUID, app: App, caller: CallerDep) -> HoldOut:
    await app.execute(CancelHold(hold_id, caller.actor))
    return await _hold(app, hold_id)


@router.get("/patrons/{patron_id}/holds", response_model=list[HoldOut])
async def patron_holds(patron_id: UUID, app: App, active: bool = False) -> list[HoldOut]:
    """Every hold of the patron, newest last; `active=true` keeps waiting and ready ones."""
    async with one_read_connection(app.engines.read):
        if await app.readers.patrons.get(patron_id) is None:
            raise PatronNotFound(f"no patron {patron_id}")
        holds = await app.readers.loans.holds_of_patron(patron_id, active_only=active)
    return [HoldOut.of(h) for h in holds]

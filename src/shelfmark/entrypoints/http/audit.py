"""The audit log, for admins, newest first: staff overrides (suspensions, category changes,
staff-set due dates, back-dated returns), payments and waivers, and changes to logins."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlalchemy import select, tuple_

from shelfmark.entrypoints.http.deps import App
from shelfmark.entrypoints.http.responses import PageOut, page_out
from shelfmark.seedwork.infrastructure.audit import audit_log
from shelfmark.seedwork.infrastructure.reading import reading
from shelfmark.seedwork.pagination import PageRequest, decode_cursor, page_of

router = APIRouter(tags=["audit"])


class AuditEntry(BaseModel):
    event_id: UUID
    at: datetime
    actor: str
    action: str
    subject_id: UUID
    details: dict[str, Any]


@router.get("/audit", response_model=PageOut[AuditEntry])
async def audit(
    app: App,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> PageOut[AuditEntry]:
    page = PageRequest(limit, decode_cursor(cursor, datetime, UUID))
    order = (audit_log.c.at, audit_log.c.event_id)
    query = select(audit_log).order_by(*(c.desc() for c in order)).limit(limit + 1)
    if page.after is not None:
        query = query.where(tuple_(*order) < page.after)
    async with reading(app.engines.read) as connection:
        rows = (await connection.execute(query)).all()
    entries = [
        AuditEntry(
            event_id=r.event_id,
            at=r.at,
            actor=r.actor,
            action=r.action,
            subject_id=r.subject_id,
            details=json.loads(r.details),
        )
        for r in rows
    ]
    found = page_of(entries, page, key=lambda e: (e.at.isoformat(), str(e.event_id)))
    return page_out(response, found.items, found.next_cursor)

"""Letting events reach their consumers: in process, by running the relay; in a running
deployment, by waiting for its workers."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.bootstrap import Shelfmark
from shelfmark.lending.application.reactions import LendingReactions
from shelfmark.notifications.application.notify import PatronNotifier
from shelfmark.search.application.projection import BookIndexProjection
from shelfmark.seedwork.infrastructure.inbox import inbox
from shelfmark.seedwork.infrastructure.outbox import outbox
from tests.support.broker import eventually

#: The consumers that write what they applied to the inbox, with the events they are sent.
#: (The cache consumer keeps no record; a write drops what it makes stale as it commits.)
RECORDED = {c.name: c.event_types for c in (PatronNotifier, LendingReactions, BookIndexProjection)}


async def settle(shelfmark: Shelfmark) -> None:
    """Relays the outbox until it is empty: the read side has then seen every write."""
    while await shelfmark.events.relay.relay_once(shelfmark.clock.now()):
        pass


async def settle_deployment(engine: AsyncEngine, seconds: float = 30.0) -> None:
    """Waits until a running deployment's relay has published every event and each consumer
    has applied every one it is sent. Effects and their new events commit with the inbox row,
    so one look that finds nothing waiting sees the read side caught up."""
    waiting: list[ColumnElement[bool]] = [outbox.c.published_at.is_(None)]
    for consumer, types in RECORDED.items():
        applied = exists().where(
            and_(inbox.c.consumer == consumer, inbox.c.event_id == outbox.c.event_id)
        )
        waiting.append(and_(outbox.c.event_type.in_(sorted(types)), not_(applied)))
    count = select(func.count()).select_from(outbox).where(or_(*waiting))

    async def caught_up() -> bool:
        async with engine.connect() as connection:
            return not await connection.scalar(count)

    await eventually(caught_up, within=seconds, what="every event relayed and applied")

"""The outbox rows the relay has marked published, in the order it marked them: how a process
that runs no consumers of its own (a peer API process in embedded mode) learns what changed.

The cursor is (published_at, position). One relay marks its rounds one after another, each
round's rows with the time the round began, so a row marked later never sorts before one
already read. Two cases break that order, and a row they hide is never read: the system clock
stepping back, and a relay round that began before the feed's start and was marked after it
(the feed starts `lookback` before its own start to cover that)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.seedwork.infrastructure.envelopes import envelope_from_row
from shelfmark.seedwork.infrastructure.outbox import outbox
from shelfmark.seedwork.infrastructure.reading import reading
from shelfmark.seedwork.messaging import Envelope

_since = bindparam("since", type_=outbox.c.published_at.type)
_NEXT = (
    select(outbox)
    .where(
        outbox.c.published_at >= _since,  # the index's range; the rest is read within it
        or_(outbox.c.published_at > _since, outbox.c.position > bindparam("after")),
    )
    .order_by(outbox.c.published_at, outbox.c.position)
    .limit(bindparam("limit"))
)


class PublishedFeed:
    def __init__(
        self, engine: AsyncEngine, start: datetime, *, lookback: timedelta, batch: int = 500
    ) -> None:
        self._engine = engine
        self._since = start - lookback
        self._after = 0
        self._read_up_to: tuple[datetime, int] | None = None
        self.batch = batch

    async def next_batch(self) -> list[Envelope]:
        """The next rows published after the cursor (at most `batch`); the cursor moves past
        them at `done`, so a batch whose handling failed is read again."""
        values = {"since": self._since, "after": self._after, "limit": self.batch}
        async with reading(self._engine) as connection:
            rows = (await connection.execute(_NEXT, values)).all()
        envelopes = [envelope_from_row(row) for row in rows]
        self._read_up_to = (rows[-1].published_at, rows[-1].position) if rows else None
        return envelopes

    def done(self) -> None:
        """The last batch was handled: the next one starts after it."""
        if self._read_up_to is not None:
            self._since, self._after = self._read_up_to
            self._read_up_to = None

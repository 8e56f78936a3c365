"""Reads from a streaming replica of PostgreSQL, without losing sight of one's own writes.

`ReplicaEngine` is the read engine when a replica is configured. It is an `AsyncEngine`, so the
readers take it unchanged; each `connect()` goes to the replica only inside `replica_reads()`,
and to the primary everywhere else. The HTTP layer opens `replica_reads()` for a request once it
knows the replica has replayed every write the caller has made (see `has_replayed`); background
work (relay, consumers, jobs, CLI) never opens it, so it always reads the primary.

Positions in the write-ahead log (LSNs) are handled as integers; `format_lsn`/`parse_lsn`
convert from and to PostgreSQL's text form ("16/B374D848").
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_replica_allowed: ContextVar[bool] = ContextVar("shelfmark_replica_allowed", default=False)

_MAX_LSN = 2**64 - 1
#: How long a look at the replica's health is trusted, and how long a probe may take.
HEALTH_SECONDS = 1.0
PROBE_TIMEOUT_SECONDS = 0.5
_LSN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")


def parse_lsn(value: str) -> int:
    """PostgreSQL's "X/Y" (two hexadecimal halves) as an integer; ValueError if malformed."""
    match = _LSN.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not an LSN: {value!r}")
    return (int(match[1], 16) << 32) | int(match[2], 16)


def format_lsn(value: int) -> str:
    if not 0 <= value <= _MAX_LSN:
        raise ValueError(f"not an LSN: {value}")
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


@contextmanager
def replica_reads(allowed: bool = True) -> Iterator[None]:
    """Within this block (this task and the tasks it starts), `ReplicaEngine.connect()` goes
    to the replica if `allowed`, else to the primary."""
    token = _replica_allowed.set(allowed)
    try:
        yield
    finally:
        _replica_allowed.reset(token)


class ReplicaEngine(AsyncEngine):
    """An engine on the replica that hands out primary connections unless `replica_reads()`
    allows the replica; `dispose()` closes the replica's pool (the primary's is the writer's)."""

    __slots__ = ("_checked_at", "_healthy", "_replayed", "primary", "replica")

    def __init__(self, replica: AsyncEngine, primary: AsyncEngine) -> None:
        super().__init__(replica.sync_engine)
        self.replica = replica
        self.primary = primary
        self._replayed = 0  # the furthest replay position seen; it only moves forward
        self._healthy = True
        self._checked_at = float("-inf")

    async def available(self) -> bool:
        """Whether the replica answers: asked at most once a second (with a short timeout), so
        while it is down reads go to the primary instead of failing."""
        now = time.monotonic()
        if now - self._checked_at < HEALTH_SECONDS:
            return self._healthy
        self._checked_at = now
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS), self.replica.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # unreachable, refusing, too slow: all mean "read the primary"
            self._healthy = False
        else:
            self._healthy = True
        return self._healthy

    def connect(self) -> AsyncConnection:
        if _replica_allowed.get():
            return self.replica.connect()
        return self.primary.connect()

    async def primary_position(self) -> int:
        """Where the primary's log ends now: at or after the end of every transaction already
        committed (the insert position, which also covers a commit not yet flushed)."""
        async with self.primary.connect() as connection:
            value = await connection.scalar(text("SELECT pg_current_wal_insert_lsn()::text"))
        return parse_lsn(str(value))

    async def has_replayed(self, position: int) -> bool:
        """Whether the replica has applied the log up to `position`, so that a read there sees
        every transaction committed before it. Asks the replica only when the last answer
        was not enough; a server that is not replaying (NULL) never has."""
        if position <= self._replayed:
            return True
        async with self.replica.connect() as connection:
            value = await connection.scalar(text("SELECT pg_last_wal_replay_lsn()::text"))
        if value is None:
            return False
        self._replayed = max(self._replayed, parse_lsn(str(value)))
        return position <= self._replayed

"""Read-your-writes over a lagging read replica.

With READ_DATABASE_URL set, a GET (or HEAD) reads the replica, unless the caller wrote
something the replica has not replayed yet; then that request reads the primary. Everything
else (POST...) reads the primary: a command's checks must not act on stale rows.

How "the caller's writes" are known: after every write request (any method but GET, HEAD,
OPTIONS) the primary's log position is taken (its end at that moment, so at or past the
caller's commit) and
  * remembered in this process for the caller's account (from the bearer token), for
    `REMEMBER_SECONDS`, and
  * returned in the `X-Shelfmark-LSN` response header; a client that sends it back on its next
    requests keeps read-your-writes across API processes, and without a token.
A request needing position P reads the replica if the replica has replayed P (one quick query
to it, skipped once it is known to be past P), else the primary: no waiting for the replica.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelfmark.bootstrap import Shelfmark
from shelfmark.seedwork.infrastructure.replica import (
    ReplicaEngine,
    format_lsn,
    parse_lsn,
    replica_reads,
)

HEADER = b"x-shelfmark-lsn"
READ_METHODS = frozenset({"GET", "HEAD"})
SAFE_METHODS = READ_METHODS | {"OPTIONS"}
REMEMBER_SECONDS = 60.0
#: When the position of a write could not be read: the primary, until it is forgotten.
UNKNOWN_POSITION = 2**64 - 1
_PRUNE_ABOVE = 10_000
log = structlog.get_logger("shelfmark.replica")


class ReadYourWritesMiddleware:
    """Chooses, per request, whether reads may go to the replica (see the module docstring).
    Does nothing when there is no replica."""

    def __init__(
        self,
        app: ASGIApp,
        shelfmark: Callable[[], Shelfmark],
        remember_seconds: float = REMEMBER_SECONDS,
    ) -> None:
        self.app = app
        self._shelfmark = shelfmark
        self._remember_seconds = remember_seconds
        self._written: dict[str, tuple[int, float]] = {}  # account -> (position, until)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        shelfmark = self._shelfmark()
        engine = shelfmark.engines.read
        if not isinstance(engine, ReplicaEngine):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        account = _account(headers, shelfmark)
        method = scope["method"]
        use_replica = method in READ_METHODS and await self._replica_is_current(
            engine, account, _position_in(headers)
        )
        if method in SAFE_METHODS:
            with replica_reads(use_replica):
                await self.app(scope, receive, send)
            return

        async def send_with_position(message: Message) -> None:
            if message["type"] == "http.response.start":
                position = await self._written_position(engine, account)
                if position is not None:
                    message["headers"] = [
                        *message.get("headers", []),
                        (HEADER, format_lsn(position).encode()),
                    ]
            await send(message)

        with replica_reads(False):
            await self.app(scope, receive, send_with_position)

    async def _replica_is_current(
        self, engine: ReplicaEngine, account: str | None, given: int | None
    ) -> bool:
        if not await engine.available():
            return False
        needed = max(self._remembered(account), given or 0)
        if needed == 0:
            return True
        try:
            return await engine.has_replayed(needed)
        except (SQLAlchemyError, OSError) as error:
            log.warning("replica position unknown; reading the primary", error=str(error))
            return False

    async def _written_position(self, engine: ReplicaEngine, account: str | None) -> int | None:
        """The primary's position now, remembered for the caller (after their commit, since
        the response is being sent)."""
        try:
            position: int | None = await engine.primary_position()
        except (SQLAlchemyError, OSError) as error:
            log.warning("primary position unknown after a write", error=str(error))
            position = None
        if account is not None:
            self._remember(account, UNKNOWN_POSITION if position is None else position)
        return position

    def _remembered(self, account: str | None) -> int:
        if account is None or account not in self._written:
            return 0
        position, until = self._written[account]
        if until < time.monotonic():
            del self._written[account]
            return 0
        return position

    def _remember(self, account: str, position: int) -> None:
        now = time.monotonic()
        if len(self._written) >= _PRUNE_ABOVE:
            self._written = {a: e for a, e in self._written.items() if e[1] >= now}
        previous = self._remembered(account)
        if previous != UNKNOWN_POSITION:  # a known position ends an unknown one
            position = max(previous, position)  # concurrent writes may answer out of order
        self._written[account] = (position, now + self._remember_seconds)


def _account(headers: dict[bytes, bytes], shelfmark: Shelfmark) -> str | None:
    """The account of a valid bearer token, if any."""
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() != "bearer":
        return None
    principal = shelfmark.tokens.verify(token.strip(), "access")
    return str(principal.account_id) if principal else None


def _position_in(headers: dict[bytes, bytes]) -> int | None:
    value = headers.get(HEADER)
    if value is None:
        return None
    try:
        return parse_lsn(value.decode("latin-1"))
    except ValueError:
        return None

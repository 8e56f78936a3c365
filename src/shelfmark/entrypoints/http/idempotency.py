"""Idempotency-Key on every POST: same key and body replays the first answer with no new
effect; same key, other body is 422; a key whose first request still runs is 409."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelfmark.access.infrastructure.tokens import TokenService
from shelfmark.entrypoints.http.problems import problem
from shelfmark.seedwork.clock import Clock
from shelfmark.seedwork.infrastructure.idempotency import (
    Claimed,
    IdempotencyStore,
    InProgress,
    Mismatch,
    StoredResponse,
)

HEADER = b"idempotency-key"
MAX_KEY = 255


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        store: Callable[[], IdempotencyStore],
        clock: Callable[[], Clock],
        tokens: Callable[[], TokenService],
    ) -> None:
        self.app = app
        self._store = store
        self._clock = clock
        self._tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = dict(scope.get("headers", [])).get(HEADER) if scope["type"] == "http" else None
        if key is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= MAX_KEY:
            await _answer(
                scope,
                receive,
                send,
                problem(
                    422,
                    f"Idempotency-Key is 1..{MAX_KEY} characters",
                    code="INVALID_IDEMPOTENCY_KEY",
                    errors=[{"field": "header.idempotency-key", "message": "1..255 characters"}],
                ),
            )
            return
        body, receive_again = await _buffered(receive)
        store = self._store()
        request = fingerprint(scope["path"], scope.get("query_string", b""), body)
        key = self._scoped(scope, key)
        claim = await store.claim(key.decode("latin-1"), request, self._clock().now())
        if isinstance(claim, Mismatch):
            await _answer(
                scope,
                receive,
                send,
                problem(
                    422,
                    "this Idempotency-Key was used with a different request",
                    code="IDEMPOTENCY_KEY_REUSED",
                ),
            )
        elif isinstance(claim, InProgress):
            await _answer(
                scope,
                receive,
                send,
                problem(
                    409,
                    "a request with this Idempotency-Key is still running",
                    code="IDEMPOTENCY_KEY_IN_USE",
                ),
            )
        elif isinstance(claim, StoredResponse):
            await _replay(claim, send)
        else:
            assert isinstance(claim, Claimed)
            await self._run_and_store(scope, receive_again, send, store, key.decode("latin-1"))

    def _scoped(self, scope: Scope, key: bytes) -> bytes:
        return _subject(scope, self._tokens()).encode() + b":" + key

    async def _run_and_store(
        self, scope: Scope, receive: Receive, send: Send, store: IdempotencyStore, key: str
    ) -> None:
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await store.release(key)
            raise
        status = int(start.get("status", 500))
        if status >= 500:
            await store.release(key)
            return
        headers = {k.lower(): v.decode("latin-1") for k, v in start.get("headers", [])}
        await store.complete(
            key,
            StoredResponse(
                status, headers.get(b"content-type"), headers.get(b"location"), b"".join(chunks)
            ),
        )


def _subject(scope: Scope, tokens: TokenService) -> str:
    """Keys are per caller: two callers may pick the same key without meeting."""
    header = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
    scheme, _, token = header.partition(" ")
    principal = tokens.verify(token.strip(), "access") if scheme.lower() == "bearer" else None
    return str(principal.account_id) if principal else "anonymous"


def fingerprint(path: str, query: bytes, body: bytes) -> str:
    """What makes two requests "the same" for a key: path, query string and body bytes."""
    return hashlib.sha256(b"\n".join([path.encode(), query, body])).hexdigest()


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    parts: list[bytes] = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(parts)
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, receive_again


async def _replay(stored: StoredResponse, send: Send) -> None:
    headers = [(b"idempotent-replayed", b"true")]
    if stored.content_type:
        headers.append((b"content-type", stored.content_type.encode()))
    if stored.location:
        headers.append((b"location", stored.location.encode()))
    headers.append((b"content-length", str(len(stored.body)).encode()))
    await send({"type": "http.response.start", "status": stored.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body})


async def _answer(scope: Scope, receive: Receive, send: Send, response: ASGIApp) -> None:
    await response(scope, receive, send)

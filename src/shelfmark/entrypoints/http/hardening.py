"""Defences every response gets: a per-client request limit, a body size limit, and security
headers. Pure ASGI, so an oversize body is refused while it streams in."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import structlog
from limits import RateLimitItem
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelfmark.bootstrap.security import RateLimits
from shelfmark.entrypoints.http.problems import problem

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
API_ONLY_HEADERS = [(b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")]
DOCS = ("/docs", "/redoc", "/openapi.json")
log = structlog.get_logger("shelfmark.ratelimit")


async def allowed(limits: RateLimits, item: RateLimitItem, *key: str, count: bool = True) -> bool:
    """Counts a request against its limit. When the counters' store (Redis) is down the
    request is let through and logged: a limiter outage must not become an API outage."""
    try:
        if count:
            return await limits.limiter.hit(item, *key)
        return await limits.limiter.test(item, *key)
    except Exception:  # any failure of the store
        log.warning("rate limit store unavailable; request allowed", limit=str(item))
        return True


def client_of(scope: Scope) -> str:
    """Whom the per-client limit counts: the peer address (the balancer's forwarded address
    once uvicorn's proxy headers have replaced it)."""
    return scope["client"][0] if scope.get("client") else "unknown"


def security_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The headers every response gets (the API's own also forbid any content)."""
    return SECURITY_HEADERS + ([] if scope["path"].startswith(DOCS) else API_ONLY_HEADERS)


class BodyTooLarge(HTTPException):
    """Raised while the body streams in; FastAPI lets an HTTPException through as it is."""

    def __init__(self, max_body: int) -> None:
        super().__init__(413, f"the body is larger than {max_body} bytes")


class HardeningMiddleware:
    def __init__(
        self, app: ASGIApp, limits: Callable[[], RateLimits], max_body: Callable[[], int]
    ) -> None:
        self.app = app
        self._limits = limits
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self._limits()
        client = client_of(scope)
        if not await allowed(limits, limits.per_client, "client", client):
            stats = await limits.limiter.get_window_stats(limits.per_client, "client", client)
            retry = str(max(1, math.ceil(stats.reset_time - time.time())))
            await problem(
                429, "too many requests", code="RATE_LIMITED", headers={"Retry-After": retry}
            )(scope, receive, send)
            return
        max_body = self._max_body()
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body:
            await _too_large(scope, receive, send, max_body)
            return
        started = False
        received = 0
        extra = security_headers(scope)

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > max_body:
                raise BodyTooLarge(max_body)
            return message

        async def send_hardened(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, counted, send_hardened)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(scope, receive, send_hardened, max_body)


async def _too_large(scope: Scope, receive: Receive, send: Send, max_body: int) -> None:
    response = problem(413, f"the body is larger than {max_body} bytes", code="BODY_TOO_LARGE")
    await response(scope, receive, send)

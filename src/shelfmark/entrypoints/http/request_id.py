"""Every response carries X-Request-ID (the caller's, if sane, or a new one); logs carry it too.

This is the outermost layer of our own, so it also turns an unexpected error into a plain 500
problem (logged with the request id, no stack trace to the client)."""

from __future__ import annotations

import re
import secrets
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelfmark.entrypoints.http.problems import problem

HEADER = b"x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
log = structlog.get_logger("shelfmark.access")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        started = time.perf_counter()
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                message["headers"] = [*message.get("headers", []), (HEADER, request_id.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception("unhandled error", path=scope["path"])
                if started_response:
                    raise
                unexpected = problem(
                    500, "an unexpected error occurred; it has been logged", code="INTERNAL_ERROR"
                )
                await unexpected(scope, receive, send_with_id)
            finally:
                log_request(scope, status, started)


def request_id_of(scope: Scope) -> str:
    """The caller's X-Request-ID if it is sane, else a new one (as a uuid4's hex, at a third of
    its cost)."""
    given = dict(scope["headers"]).get(HEADER, b"").decode("latin-1")
    return given if _SANE.match(given) else secrets.token_hex(16)


def log_request(scope: Scope, status: int, started: float, **bound: str) -> None:
    """The access log line (`started` from `time.perf_counter()`); `bound` for what is not
    bound to the context already (the request id)."""
    log.info(
        "request",
        **bound,
        method=scope["method"],
        path=scope["path"],
        status=status,
        ms=round((time.perf_counter() - started) * 1000, 1),
    )

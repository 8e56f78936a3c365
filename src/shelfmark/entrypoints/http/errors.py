"""The one table that turns errors into HTTP answers. Nothing else knows status codes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelfmark.entrypoints.http.problems import problem
from shelfmark.seedwork.domain import Conflict, DomainError, InvalidValue, NotFound, RulesViolated
from shelfmark.seedwork.infrastructure.outages import is_outage

STATUS_BY_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidValue, 422),
    (NotFound, 404),
    (RulesViolated, 409),
    (Conflict, 409),
)


def _field(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location)


async def _domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    status = next((s for kind, s in STATUS_BY_ERROR if isinstance(error, kind)), 409)
    extra: dict[str, Any] = {}
    if isinstance(error, RulesViolated):
        extra["reasons"] = [{"code": r.code, "detail": r.detail} for r in error.reasons]
    elif isinstance(error, Conflict):
        extra["reasons"] = [{"code": error.code, "detail": error.detail}]
    if isinstance(error, InvalidValue):
        field = error.field if "." in error.field else f"body.{error.field}"
        extra["errors"] = [{"field": field, "message": error.detail}]
    return problem(status, error.detail, code=error.code, **extra)


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [{"field": _field(e["loc"]), "message": e["msg"]} for e in error.errors()]
    fields = ", ".join(e["field"] for e in errors)
    return problem(422, f"invalid input: {fields}", code="INVALID_INPUT", errors=errors)


#: Codes for the answers the framework and the access gate give (the detail says the rest).
CODE_BY_STATUS = {
    401: "UNAUTHENTICATED",
    403: "NOT_ALLOWED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "BODY_TOO_LARGE",
    429: "RATE_LIMITED",
}


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == HTTPStatus.BAD_REQUEST:  # a body that is not JSON at all
        errors = [{"field": "body", "message": str(error.detail)}]
        return problem(422, "the body is not valid JSON", code="INVALID_INPUT", errors=errors)
    code = CODE_BY_STATUS.get(error.status_code, HTTPStatus(error.status_code).name)
    return problem(error.status_code, str(error.detail), code=code, headers=error.headers)


#: Seconds a client is asked to wait before trying again after a 503.
RETRY_AFTER_SECONDS = 5
log = structlog.get_logger("shelfmark.deadline")


class DeadlineMiddleware:
    """Gives every request `budget()` seconds, dependency calls included, and answers 503 with
    Retry-After, instead of a hang or a 500, when the budget runs out or a dependency the
    request needs (the database: the cache and the broker degrade on their own) is unavailable.
    Once a response has started it can no longer change, and the error propagates.

    At the deadline the work is cancelled but not awaited: its cleanup (SQLAlchemy closes a
    cancelled database connection politely, for up to 2 s) runs off the request's clock."""

    def __init__(self, app: ASGIApp, budget: Callable[[], float]) -> None:
        self.app = app
        self._budget = budget
        self._abandoned: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def answer() -> None:
            await self.app(scope, receive, send_noting_start)

        work = asyncio.create_task(answer())
        budget = self._budget()
        try:
            done, _ = await asyncio.wait({work}, timeout=budget)
        except asyncio.CancelledError:
            work.cancel()
            raise
        if done or started:
            try:
                await work
                return
            except Exception as raised:
                if started or not is_outage(raised):
                    raise
                error: Exception = raised
        else:
            self._abandon(work)
            error = TimeoutError(f"no answer within the budget of {budget} s")
        log.warning("request answered 503", error=repr(error))
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        detail = "a service this request needs is unavailable or too slow; try again later"
        await problem(503, detail, code="UNAVAILABLE", headers=retry)(scope, receive, send)

    def _abandon(self, work: asyncio.Task[None]) -> None:
        work.cancel()
        self._abandoned.add(work)
        work.add_done_callback(self._forget)

    def _forget(self, work: asyncio.Task[None]) -> None:
        self._abandoned.discard(work)
        if not work.cancelled() and work.exception() is not None:
            log.warning("abandoned request failed", error=repr(work.exception()))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)

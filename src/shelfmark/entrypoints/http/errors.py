"""The one table that turns errors into HTTP answers. Nothing else knows status codes."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shelfmark.entrypoints.http.problems import problem
from shelfmark.seedwork.domain import Conflict, DomainError, InvalidValue, NotFound, RulesViolated

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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)

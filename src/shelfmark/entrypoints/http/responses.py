"""Response helpers: ETags on single resources, cursors in a header as well as the body."""

from __future__ import annotations

import hashlib
from typing import Generic, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel

T = TypeVar("T")


def with_etag(request: Request, model: BaseModel) -> Response:
    """The resource with a weak ETag; a matching If-None-Match gets 304 and no body."""
    body = json_body(model)
    return json_response(request, body, {"ETag": etag_of(body)})


def json_body(model: BaseModel) -> bytes:
    """The bytes FastAPI would send for the model (compact, UTF-8, pydantic's JSON forms),
    straight from pydantic's serialiser: `jsonable_encoder` and `JSONResponse` made the same
    bytes 16 times slower for a page of 20 books."""
    return model.model_dump_json().encode()


def etag_of(body: bytes) -> str:
    return f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'


def json_response(request: Request, body: bytes, headers: dict[str, str]) -> Response:
    """A ready JSON body; when `headers` has an ETag that If-None-Match names, 304 instead."""
    etag = headers.get("ETag")
    if etag is not None and request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers=headers)


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def page_out(response: Response, items: list[T], next_cursor: str | None) -> PageOut[T]:
    """A keyset page; the cursor also travels in X-Next-Cursor."""
    if next_cursor:
        response.headers["X-Next-Cursor"] = next_cursor
    return PageOut[T](items=items, next_cursor=next_cursor)

"""Keyset pagination: a page is fetched after the last row's sort key, so depth costs nothing."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shelfmark.seedwork.domain import InvalidValue

T = TypeVar("T")

MAX_LIMIT = 200


@dataclass(frozen=True)
class PageRequest:
    limit: int = 50
    after: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidValue("limit", f"limit must be between 1 and {MAX_LIMIT}")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(key: tuple[Any, ...]) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> tuple[Any, ...] | None:
    """The opaque cursor back to its sort key; anything malformed is the caller's error."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidValue("query.cursor", "the cursor is not one this service issued") from None
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidValue("query.cursor", "the cursor is not one this service issued")
    if not all(isinstance(v, str | int | float) for v in values):
        raise InvalidValue("query.cursor", "the cursor is not one this service issued")
    return tuple(values)


def page_of(rows: list[T], request: PageRequest, key: Any) -> Page[T]:
    """`rows` holds up to limit + 1 rows; the extra one only says another page exists."""
    if len(rows) > request.limit:
        items = rows[: request.limit]
        return Page(items, encode_cursor(key(items[-1])))
    return Page(rows, None)

"""Keyset pagination: a page is fetched after the last row's sort key, so depth costs nothing."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from shelfmark.seedwork.domain import InvalidValue
from shelfmark.seedwork.text import has_control_characters

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


def _typed(value: object, kind: type) -> object:
    if not isinstance(value, str) or has_control_characters(value):
        raise ValueError(value)
    value.encode()  # a lone surrogate is not text any database accepts (UnicodeEncodeError)
    if kind is datetime:
        instant = datetime.fromisoformat(value)
        if instant.tzinfo is None:
            raise ValueError(value)
        return instant
    return kind(value)


def decode_cursor(cursor: str | None, *kinds: type) -> tuple[Any, ...] | None:
    """The opaque cursor back to its sort key, each part as `kinds` says (str, UUID,
    datetime); anything malformed is the caller's error, never ours."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError(values)
        return tuple(_typed(v, k) for v, k in zip(values, kinds, strict=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidValue("query.cursor", "the cursor is not one this service issued") from None


def page_of(rows: list[T], request: PageRequest, key: Any) -> Page[T]:
    """`rows` holds up to limit + 1 rows; the extra one only says another page exists."""
    if len(rows) > request.limit:
        items = rows[: request.limit]
        return Page(items, encode_cursor(key(items[-1])))
    return Page(rows, None)

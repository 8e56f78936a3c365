"""Cursors come back from clients: anything this service did not issue is the caller's
error (422 naming the cursor), never a 500 further down."""

from __future__ import annotations

import base64
import json
from uuid import UUID, uuid4

import pytest

from shelfmark.seedwork.domain import InvalidValue
from shelfmark.seedwork.pagination import decode_cursor, encode_cursor


def raw(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_a_cursor_round_trips() -> None:
    key = ("Dune", uuid4())
    assert decode_cursor(encode_cursor(key), str, UUID) == key


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        raw({"a": 1}),
        raw(["only one"]),
        raw(["Dune", "not a uuid"]),
        raw(["\ud800", str(uuid4())]),  # a lone surrogate: not text a database accepts
        raw(["a\x00b", str(uuid4())]),
    ],
)
def test_a_cursor_we_did_not_issue_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        decode_cursor(cursor, str, UUID)
    assert refused.value.field == "query.cursor"

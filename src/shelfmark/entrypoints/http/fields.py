"""Input field types the edge checks before anything reaches the application."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, StringConstraints

from shelfmark.seedwork.text import has_control_characters


def _no_control_characters(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("must not contain control characters")
    return value


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the instant is out of range") from None


#: Free text: any printable characters (NUL and other controls are refused).
Text = Annotated[str, AfterValidator(_no_control_characters)]
EmailIn = Annotated[
    str,
    StringConstraints(
        min_length=3, max_length=254, pattern=r"^\s*[^@\s]+@[^@\s]+\.[^@\s.]{2,}\s*$"
    ),
    AfterValidator(_no_control_characters),
]
BarcodeIn = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9-]{4,32}$")
]
#: An instant with an offset, held as UTC.
Instant = Annotated[AwareDatetime, AfterValidator(_utc)]

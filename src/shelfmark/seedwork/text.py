"""Text rules shared by every context's value objects."""

import re

from shelfmark.seedwork.domain import InvalidValue

_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_control_characters(text: str) -> bool:
    """NUL and the other C0/C1 controls: no business text holds them (PostgreSQL refuses NUL)."""
    return _CONTROL.search(text) is not None


def collapsed_text(raw: str, field: str, max_length: int) -> str:
    """Collapses runs of whitespace; blank or too long is an error naming the field."""
    text = _WHITESPACE.sub(" ", raw).strip()
    if has_control_characters(text):
        raise InvalidValue(field, f"{field} must not contain control characters")
    if not text:
        raise InvalidValue(field, f"{field} must not be blank")
    if len(text) > max_length:
        raise InvalidValue(field, f"{field} is at most {max_length} characters")
    return text

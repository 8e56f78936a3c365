"""Text rules shared by every context's value objects."""

import re

from shelfmark.seedwork.domain import InvalidValue

_WHITESPACE = re.compile(r"\s+")


def collapsed_text(raw: str, field: str, max_length: int) -> str:
    """Collapses runs of whitespace; blank or too long is an error naming the field."""
    text = _WHITESPACE.sub(" ", raw).strip()
    if not text:
        raise InvalidValue(field, f"{field} must not be blank")
    if len(text) > max_length:
        raise InvalidValue(field, f"{field} is at most {max_length} characters")
    return text

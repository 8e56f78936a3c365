"""Patron value objects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from shelfmark.seedwork.domain import InvalidValue

_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s.\x00-\x1f\x7f]{2,}$")
MAX_EMAIL = 254


class PatronCategory(StrEnum):
    """Categories in rising order: an upgrade only moves right."""

    REGULAR = "regular"
    PREMIUM = "premium"
    RESEARCHER = "researcher"

    @property
    def rank(self) -> int:
        return list(PatronCategory).index(self)


@dataclass(frozen=True, slots=True)
class Email:
    """A trimmed address, held in lower case so that comparison ignores case."""

    value: str

    def __post_init__(self) -> None:
        if len(self.value) > MAX_EMAIL or not _EMAIL.match(self.value):
            raise InvalidValue("email", f"{self.value!r} is not a valid email address")

    @classmethod
    def parse(cls, raw: str) -> Email:
        return cls(raw.strip().lower())

"""Catalog value objects; each validates itself on construction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from shelfmark.seedwork.domain import InvalidValue

_ISBN_SEPARATORS = re.compile(r"[\s-]")
_BARCODE = re.compile(r"^[A-Za-z0-9-]{4,32}$")


class Circulation(StrEnum):
    """How a copy may circulate: reference copies never leave; restricted ones go to researchers."""

    CIRCULATING = "circulating"
    RESTRICTED = "restricted"
    REFERENCE = "reference"


@dataclass(frozen=True, slots=True)
class Isbn:
    """An ISBN held as its 13-digit form; ISBN-10 input is converted, checksums verified."""

    value: str

    def __post_init__(self) -> None:
        if not (len(self.value) == 13 and self.value.isdigit() and _isbn13_ok(self.value)):
            raise InvalidValue("isbn", f"{self.value!r} is not a normalised ISBN-13")

    @classmethod
    def parse(cls, raw: str) -> Isbn:
        digits = _ISBN_SEPARATORS.sub("", raw).upper()
        if len(digits) == 10 and digits[:9].isdigit() and (digits[9].isdigit() or digits[9] == "X"):
            if not _isbn10_ok(digits):
                raise InvalidValue("isbn", "ISBN-10 checksum does not match")
            return cls(_isbn10_to_13(digits))
        if len(digits) == 13 and digits.isdigit():
            if not _isbn13_ok(digits):
                raise InvalidValue("isbn", "ISBN-13 checksum does not match")
            return cls(digits)
        raise InvalidValue("isbn", "an ISBN has 10 or 13 digits (ISBN-10 may end in X)")


def _isbn10_ok(digits: str) -> bool:
    values = [10 if c == "X" else int(c) for c in digits]
    return sum((10 - i) * v for i, v in enumerate(values)) % 11 == 0


def _isbn13_check_digit(first12: str) -> int:
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(first12))
    return (10 - total % 10) % 10


def _isbn13_ok(digits: str) -> bool:
    return _isbn13_check_digit(digits[:12]) == int(digits[12])


def _isbn10_to_13(digits: str) -> str:
    first12 = "978" + digits[:9]
    return first12 + str(_isbn13_check_digit(first12))


@dataclass(frozen=True, slots=True)
class Barcode:
    """A copy's label: trimmed, 4..32 letters, digits or hyphens, unique in the library."""

    value: str

    def __post_init__(self) -> None:
        if not _BARCODE.match(self.value):
            raise InvalidValue("barcode", "a barcode is 4..32 letters, digits or hyphens")

    @classmethod
    def parse(cls, raw: str) -> Barcode:
        return cls(raw.strip())

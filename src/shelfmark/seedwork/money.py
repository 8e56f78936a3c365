"""Money as exact integer cents."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from shelfmark.seedwork.domain import InvalidValue

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount in the library's single currency, held as whole cents (never a float)."""

    cents: int

    @classmethod
    def zero(cls) -> Money:
        return cls(0)

    @classmethod
    def parse(cls, value: str | Decimal | int, field: str = "amount") -> Money:
        """Reads '1.25', Decimal('1.25') or 1; a third decimal is an error, not a rounding."""
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise InvalidValue(field, f"{value!r} is not an amount of money") from None
        if not amount.is_finite():
            raise InvalidValue(field, f"{value!r} is not an amount of money")
        if amount.quantize(_CENT, rounding=ROUND_HALF_EVEN) != amount:
            raise InvalidValue(field, "an amount has at most two decimals")
        return cls(int(amount * 100))

    def __add__(self, other: Money) -> Money:
        return Money(self.cents + other.cents)

    def __sub__(self, other: Money) -> Money:
        return Money(self.cents - other.cents)

    def times(self, factor: int) -> Money:
        return Money(self.cents * factor)

    def is_positive(self) -> bool:
        return self.cents > 0

    def as_decimal(self) -> Decimal:
        return (Decimal(self.cents) / 100).quantize(_CENT)

    def __str__(self) -> str:
        return f"{self.as_decimal():.2f}"

from decimal import Decimal

import pytest

from shelfmark.seedwork.domain import InvalidValue
from shelfmark.seedwork.money import Money


@pytest.mark.parametrize(
    ("raw", "cents"), [("1.25", 125), ("10", 1000), (Decimal("0.01"), 1), (3, 300), ("0.10", 10)]
)
def test_parse_is_exact(raw: str | Decimal | int, cents: int) -> None:
    assert Money.parse(raw) == Money(cents)


@pytest.mark.parametrize("raw", ["1.255", "abc", "NaN", "Infinity", ""])
def test_parse_refuses_what_is_not_money(raw: str) -> None:
    with pytest.raises(InvalidValue):
        Money.parse(raw)


def test_arithmetic_and_display() -> None:
    assert str(Money(125) + Money(5) - Money(30)) == "1.00"
    assert str(Money(25).times(4)) == "1.00"
    assert Money(999) < Money(1000)

import pytest

from shelfmark.catalog.domain.model import Book
from shelfmark.catalog.domain.values import Barcode, Circulation, Isbn
from shelfmark.seedwork.domain import InvalidValue
from shelfmark.seedwork.money import Money
from tests.support.clock import MONDAY


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("0-441-17271-7", "9780441172719"),  # ISBN-10 with hyphens
        ("0441172717", "9780441172719"),
        ("080442957X", "9780804429573"),  # ISBN-10 ending in X
        ("0-8044-2957-x", "9780804429573"),  # lower-case x
        ("978-0-441-17271-9", "9780441172719"),
        ("978 0 441 17271 9", "9780441172719"),  # spaces allowed
    ],
)
def test_isbn_is_stored_as_13_digits(raw: str, normalised: str) -> None:
    assert Isbn.parse(raw).value == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "0-441-17271-8",  # bad ISBN-10 checksum
        "978-0-441-17271-0",  # bad ISBN-13 checksum
        "12345",
        "97804411727190",
        "X441172717",  # X only allowed last
        "978044117271X",  # X not allowed in ISBN-13
        "",
    ],
)
def test_isbn_rejects_bad_input_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidValue) as error:
        Isbn.parse(raw)
    assert error.value.field == "isbn"


@pytest.mark.parametrize("raw", ["abc", "A" * 33, "has space", "ünï", ""])
def test_barcode_rules(raw: str) -> None:
    with pytest.raises(InvalidValue):
        Barcode.parse(raw)


def test_barcode_is_trimmed() -> None:
    assert Barcode.parse("  AB-12  ").value == "AB-12"


def test_book_collapses_whitespace_and_records_events() -> None:
    book = Book.add(
        title="  The   Left Hand\tof Darkness ",
        author="Ursula K.  Le Guin",
        isbn=None,
        published_year=1969,
        copies=2,
        circulation=Circulation.CIRCULATING,
        now=MONDAY,
        actor="desk",
    )
    assert book.title == "The Left Hand of Darkness"
    assert book.author == "Ursula K. Le Guin"
    assert [c.replacement_cost for c in book.copies] == [Money(2500), Money(2500)]
    assert [e.name for e in book.pending_events] == ["BookAdded", "CopyAdded", "CopyAdded"]


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("title", {"title": "   "}),
        ("title", {"title": "x" * 301}),
        ("author", {"author": ""}),
        ("author", {"author": "y" * 201}),
        ("copies", {"copies": 101}),
        ("published_year", {"published_year": MONDAY.year + 2}),
    ],
)
def test_book_validation_names_the_field(field: str, kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "title": "T",
        "author": "A",
        "isbn": None,
        "published_year": None,
        "copies": 1,
        "circulation": Circulation.CIRCULATING,
        "now": MONDAY,
        "actor": "desk",
    } | kwargs
    with pytest.raises(InvalidValue) as error:
        Book.add(**args)  # type: ignore[arg-type]
    assert error.value.field == field


def test_a_copy_needs_a_positive_replacement_cost() -> None:
    book = Book.add(
        title="T",
        author="A",
        isbn=None,
        published_year=None,
        copies=0,
        circulation=Circulation.CIRCULATING,
        now=MONDAY,
        actor="desk",
    )
    with pytest.raises(InvalidValue):
        book.add_copy(Barcode("ABCD"), Circulation.REFERENCE, Money(0), MONDAY, "desk")

"""Which cached reads each event makes stale, and that the writer's hook and the consumer use
the same mapping."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest

from shelfmark.bootstrap.cache import (
    FIRST_PAGES,
    FIRST_PAGES_BY_AVAILABILITY,
    FIRST_PAGES_BY_WORDS,
    CacheInvalidation,
    book_key,
    first_page_tags_for_new_books,
    first_pages_listing,
    first_pages_with_word,
    folded_words,
    patron_key,
    records_holding,
    stale_after,
)
from shelfmark.catalog.domain import events as catalog_events
from shelfmark.lending.domain import events as lending_events
from shelfmark.lending.domain.events import BookBorrowed
from shelfmark.patrons.domain import events as patron_events
from shelfmark.seedwork.domain import DomainEvent
from shelfmark.seedwork.infrastructure.cache import MemoryResponseCache

BOOK, PATRON, LOAN = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
BOOK_TAGS = {first_pages_listing(BOOK), records_holding(BOOK), FIRST_PAGES_BY_AVAILABILITY}


def event_classes() -> Iterable[type[DomainEvent]]:
    for module in (catalog_events, patron_events, lending_events):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, DomainEvent)
                and value.__module__ == module.__name__
            ):
                yield value


@pytest.mark.parametrize(
    "event_type",
    sorted(
        c.__name__
        for c in event_classes()
        if {"book_id", "patron_id"} & {f.name for f in dataclasses.fields(c)}
    ),
)
def test_every_event_that_names_a_book_or_a_patron_invalidates(event_type: str) -> None:
    assert event_type in CacheInvalidation.event_types


def test_a_borrow_makes_the_book_the_borrower_and_the_pages_listing_the_book_stale() -> None:
    stale = stale_after(
        "BookBorrowed", LOAN, {"book_id": str(BOOK), "patron_id": str(PATRON), "copy_id": "c"}
    )

    assert stale.keys == {book_key(BOOK), patron_key(PATRON)}
    assert stale.tags == BOOK_TAGS


def test_a_new_book_makes_the_pages_without_words_and_those_of_its_words_prefixes_stale() -> None:
    stale = stale_after("BookAdded", BOOK, {"title": "Dune", "author": "Ø. Herbert"})

    assert stale.keys == {book_key(BOOK)}
    prefixes = {"d", "du", "dun", "dune", "o", "h", "he", "her", "herb", "herbe", "herber"}
    assert stale.tags == BOOK_TAGS | {FIRST_PAGES} | {
        first_pages_with_word(p) for p in prefixes | {"herbert"}
    }


@pytest.mark.parametrize(
    "title",
    [
        "Coŀlecció",
        "\u02bbŌlelo Hawai\u02bbi",  # modifier letters
        "हिन्दी",
        "Палата № 6",
        "\u039f \u039f\u03b4\u03c5\u03c2",  # Greek
    ],
)
def test_a_new_book_that_does_not_fold_plainly_makes_every_page_of_words_stale(
    title: str,
) -> None:
    assert FIRST_PAGES_BY_WORDS in stale_after("BookAdded", BOOK, {"title": title}).tags
    assert FIRST_PAGES_BY_WORDS not in stale_after("BookAdded", BOOK, {"title": "Émile"}).tags


def test_words_fold_as_the_indexes_compare_them() -> None:
    assert folded_words("ÉMILE, Zoé; Sørensen \u2102omplex Straße Catch-22") == [
        "emile",
        "zoe",
        "sorensen",
        "complex",
        "strasse",
        "catch",
        "22",
    ]


def test_a_page_of_words_found_as_words_is_filed_under_them() -> None:
    assert first_page_tags_for_new_books("DUNE herb", words_only=True) == {
        FIRST_PAGES_BY_WORDS,
        first_pages_with_word("dune"),
        first_pages_with_word("herb"),
    }


@pytest.mark.parametrize(
    ("q", "words_only"),
    [
        (None, False),  # no words: a title list any book may enter
        ("dune", False),  # nothing found, near spellings, or SQLite's bm25 order
        ("coŀl", True),  # words that may not fold as the index folds them
    ],
)
def test_any_other_first_page_is_filed_under_every_new_book(
    q: str | None, words_only: bool
) -> None:
    assert first_page_tags_for_new_books(q, words_only) == {FIRST_PAGES}


@pytest.mark.parametrize("event_type", ["PatronSuspended", "MembershipRenewed", "FineAssessed"])
def test_a_patron_or_fee_account_event_makes_the_patron_stale(event_type: str) -> None:
    stale = stale_after(event_type, PATRON, {})

    assert (stale.keys, stale.tags) == ({patron_key(PATRON)}, frozenset())


def test_a_renewal_makes_the_borrower_stale() -> None:
    stale = stale_after("LoanRenewed", LOAN, {"patron_id": str(PATRON)})

    assert stale.keys == {patron_key(PATRON)}


def test_an_event_no_cached_read_shows_changes_nothing() -> None:
    stale = stale_after("AccountCreated", uuid.uuid4(), {"username": "desk"})

    assert (stale.keys, stale.tags) == (frozenset(), frozenset())


async def test_the_writers_hook_forgets_what_the_consumer_would() -> None:
    cache = MemoryResponseCache()
    for key in (book_key(BOOK), patron_key(PATRON), "book:other"):
        await cache.set(key, b"cached", 60)
    await cache.set("books:first:x", b"page", 60, tags=[first_pages_listing(BOOK)])
    event = BookBorrowed(
        aggregate_id=LOAN,
        occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
        actor="desk",
        book_id=BOOK,
        copy_id=uuid.uuid4(),
        patron_id=PATRON,
        due_at=datetime(2026, 1, 26, tzinfo=UTC),
    )

    await CacheInvalidation(cache).after_commit([event])

    assert [await cache.get(k) for k in (book_key(BOOK), patron_key(PATRON), "books:first:x")] == [
        None,
        None,
        None,
    ]
    assert await cache.get("book:other") == b"cached"

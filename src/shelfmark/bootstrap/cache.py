"""The read cache: its keys, which events make which of them stale, and the adapter the settings
choose.

Keys: `book:{id}` (GET /books/{id}), `patron:{id}` (GET /patrons/{id}) and
`books:first:{sha256 of the normalised query}` (the first page of GET /books). Tags (sets of
keys, deleted member by member): `books:first:index` (the first pages any new book may change:
without words, where the words found nothing or only near spellings, or in SQLite's bm25 order,
which every new book moves), `books:first:word:{word}` (the other first pages of words, one
tag per word: a new book drops those whose words start one of its own),
`books:first:by-words` (all of those: a new book whose title or author does not fold plainly
drops them all, since the index may break or fold its words otherwise than `folded_words`; a
page whose words do not fold plainly is filed under `books:first:index` instead),
`books:first:listing:{book_id}` (the first pages that list the book), `books:first:by-availability`
(the first pages filtered on availability, which a book can enter or leave on any circulation
event) and `patrons:holding:{book_id}` (the patron records that show a hold on the book, whose
place in the queue moves with the other holds).

Entries are deleted twice: by the writer right after its commit (`after_commit`: the desk sees
its own change at once) and by the `cache` consumer when the event arrives (other processes'
caches, and a reader that loaded the old state while the commit happened). Deleting twice is
harmless, so the consumer keeps no inbox.

How stale a cached read can be: the writer's own process, not at all after its commit; another
process, until the change's event reaches the `cache` consumer (the relay's lag: at most
`relay_poll_seconds` plus delivery, usually milliseconds after the commit wakes it); in every
case at most `cache_ttl_seconds` (30): for an invalidation lost to a Redis outage that outlived
its process or overflowed what it remembers, a load that began before an event's delete and
stored after it, a read whose answer depends on the time alone (a loan falling overdue before
the daily job records it), a first page reloaded from the search index before it applied the
event (with RabbitMQ the `search` and `cache` queues are not ordered; the in-process bus runs
`cache` after `search`), a common word's page a book enters by gaining copies (its
popularity order), and, with the in-process cache, another process's writes.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shelfmark.config import Settings
from shelfmark.seedwork.clock import Clock
from shelfmark.seedwork.domain import DomainEvent
from shelfmark.seedwork.infrastructure.breaker import BreakerConfig, BreakerRegistry
from shelfmark.seedwork.infrastructure.cache import MemoryResponseCache, ResponseCache
from shelfmark.seedwork.infrastructure.outbox import serialise
from shelfmark.seedwork.infrastructure.redis_cache import RedisResponseCache
from shelfmark.seedwork.messaging import Envelope

REDIS_BREAKER = "cache.redis"
FIRST_PAGES = "books:first:index"
FIRST_PAGES_BY_AVAILABILITY = "books:first:by-availability"
FIRST_PAGES_BY_WORDS = "books:first:by-words"


def book_key(book_id: UUID) -> str:
    return f"book:{book_id}"


def patron_key(patron_id: UUID) -> str:
    return f"patron:{patron_id}"


def first_page_key(normalised_query: str) -> str:
    return f"books:first:{hashlib.sha256(normalised_query.encode()).hexdigest()}"


def first_pages_with_word(word: str) -> str:
    return f"books:first:word:{word}"


#: Letters that unaccenting turns into other letters instead of dropping a mark from (as
#: PostgreSQL's unaccent and FTS5's remove_diacritics do); NFKD handles the rest.
_LETTERS_MAPPED = frozenset("øæœßłđðþ\u0131")
_LETTERS = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ł": "l", "đ": "d", "ð": "d", "þ": "th"}
    | {"\u0131": "i"}  # dotless i
)


def folded_words(text: str) -> list[str]:
    """Words as the search index compares them: case folded, unaccented, letters and digits."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_LETTERS))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return "".join(c if c.isalnum() else " " for c in plain).split()


def folds_plainly(text: str) -> bool:
    """Whether every character is ASCII, or a letter the table maps, or one whose NFKD is an
    ASCII letter or digit with marks only: then `folded_words` breaks and folds it as both
    indexes do. Anything else (a modifier letter, a virama, ŀ, №...) may differ."""
    for c in text.lower():
        if c.isascii() or c in _LETTERS_MAPPED:
            continue
        base = [x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x)]
        if len(base) != 1 or not (base[0].isascii() and base[0].isalnum()):
            return False
    return True


def first_page_tags_for_new_books(q: str | None, words_only: bool) -> set[str]:
    """The tags under which a new book drops a first page (its `BookAdded`).

    A page that only a book holding every word can change (`SearchPage.words_only`) is filed
    under each word, and under `FIRST_PAGES_BY_WORDS`; a new book drops the pages of the words
    its own words start with. Any other page (no words, nothing found, near spellings, or an
    order that any new book moves) is dropped by every new book: `FIRST_PAGES`."""
    words = folded_words(q or "")[:10]  # as many as the search takes
    if not (words and words_only and folds_plainly(q or "")):
        return {FIRST_PAGES}
    return {FIRST_PAGES_BY_WORDS, *(first_pages_with_word(w) for w in words)}


def _new_book_tags(payload: Mapping[str, Any]) -> set[str]:
    """Every first page a new book may enter: those without words (`FIRST_PAGES`) and those
    filed under a word that one of the book's words starts with; and every page of words if
    the book's title or author does not fold plainly (`folds_plainly`)."""
    text = f"{payload.get('title', '')} {payload.get('author', '')}"
    held = folded_words(text)
    prefixes = {word[:n] for word in held for n in range(1, len(word) + 1)}
    tags = {FIRST_PAGES, *(first_pages_with_word(p) for p in prefixes)}
    if not folds_plainly(text):
        tags.add(FIRST_PAGES_BY_WORDS)
    return tags


def first_pages_listing(book_id: UUID) -> str:
    return f"books:first:listing:{book_id}"


def records_holding(book_id: UUID) -> str:
    return f"patrons:holding:{book_id}"


#: Events whose aggregate is the book.
BOOK_AGGREGATE = frozenset({"BookAdded", "CopyAdded", "CopyWithdrawn"})
#: Events whose aggregate is the patron (a fee account's id is its patron's).
PATRON_AGGREGATE = frozenset(
    {
        "PatronRegistered",
        "PatronSuspended",
        "PatronReinstated",
        "PatronCategoryChanged",
        "MembershipRenewed",
        "FineAssessed",
        "PaymentReceived",
        "LostItemCharged",
        "FeeWaived",
        "FeeRefunded",
        "CreditPaidOut",
    }
)
#: Events that carry `book_id` and `patron_id`.
CIRCULATION = frozenset(
    {
        "BookBorrowed",
        "BookReturned",
        "LoanBecameOverdue",
        "LoanFallingDue",
        "HoldPlaced",
        "HoldReadyForPickup",
        "HoldFulfilled",
        "HoldCancelled",
        "HoldExpired",
    }
)
#: Events that carry `patron_id` only.
LOAN_OF_PATRON = frozenset({"LoanRenewed", "LoanAgedToLost"})


@dataclass(frozen=True, slots=True)
class Stale:
    keys: frozenset[str]
    tags: frozenset[str]


def stale_after(event_type: str, aggregate_id: UUID, payload: Mapping[str, Any]) -> Stale:
    """The keys and tags an event makes stale (none for an event that changes no cached read)."""
    books: list[UUID] = []
    patrons: list[UUID] = []
    if event_type in BOOK_AGGREGATE:
        books.append(aggregate_id)
    elif event_type in PATRON_AGGREGATE:
        patrons.append(aggregate_id)
    elif event_type in CIRCULATION:
        books.append(UUID(str(payload["book_id"])))
        patrons.append(UUID(str(payload["patron_id"])))
    elif event_type in LOAN_OF_PATRON:
        patrons.append(UUID(str(payload["patron_id"])))
    keys = {book_key(b) for b in books} | {patron_key(p) for p in patrons}
    tags = {t for b in books for t in (first_pages_listing(b), records_holding(b))}
    if books:
        tags.add(FIRST_PAGES_BY_AVAILABILITY)
    if event_type == "BookAdded":
        tags |= _new_book_tags(payload)
    return Stale(frozenset(keys), frozenset(tags))


class CacheInvalidation:
    """The `cache` consumer and the writers' after-commit hook: one mapping, two triggers."""

    name = "cache"
    event_types = BOOK_AGGREGATE | PATRON_AGGREGATE | CIRCULATION | LOAN_OF_PATRON

    def __init__(self, cache: ResponseCache) -> None:
        self._cache = cache

    async def handle(self, envelope: Envelope) -> None:
        await self.forget_all([envelope])

    async def forget_all(self, envelopes: Iterable[Envelope]) -> None:
        """What a batch of events made stale, in one delete."""
        await self._forget(
            stale_after(e.event_type, e.aggregate_id, e.payload)
            for e in envelopes
            if e.event_type in self.event_types
        )

    async def after_commit(self, events: Sequence[DomainEvent]) -> None:
        await self._forget(
            stale_after(e.name, e.aggregate_id, json.loads(serialise(e)))
            for e in events
            if e.name in self.event_types
        )

    async def _forget(self, stale: Iterable[Stale]) -> None:
        keys: set[str] = set()
        tags: set[str] = set()
        for entry in stale:
            keys |= entry.keys
            tags |= entry.tags
        if keys or tags:
            await self._cache.delete(*keys, tags=tags)


def response_cache(
    settings: Settings, clock: Clock, breakers: BreakerRegistry, breaker: BreakerConfig
) -> ResponseCache:
    """Redis when `cache_url` is set, else in-process; the in-process cache ages entries by
    the application's clock."""
    if settings.cache_url is None:
        return MemoryResponseCache(
            max_entries=settings.cache_max_entries, clock=lambda: clock.now().timestamp()
        )
    return RedisResponseCache.from_url(
        settings.cache_url.get_secret_value(),
        breakers.get(REDIS_BREAKER, breaker),
        prefix=settings.cache_prefix,
        timeout=settings.cache_timeout_seconds,
    )

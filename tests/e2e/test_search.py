"""`GET /books` over the search index, on SQLite (FTS5) and PostgreSQL (tsvector, pg_trgm):
accents and case, prefixes, ISBNs, filters with `q`, relevance, ranked pages, cursors that are
not ours, typos (PostgreSQL only), and availability following circulation once the relay ran.

The index is eventually consistent: every test settles the outbox before it searches, and none
asserts what a search answers before that (it may or may not be stale)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from shelfmark.search.infrastructure import postgres as postgres_search
from shelfmark.search.infrastructure import sqlite as sqlite_search
from tests.e2e.conftest import Desk, Settle


async def search(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await api.get("/books", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def titles(api: httpx.AsyncClient, **params: Any) -> list[str]:
    return [b["title"] for b in await search(api, **params)]


async def walk(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every page of a listing, following `next_cursor` to the end."""
    found: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = await api.get("/books", params=params | ({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= params.get("limit", 50)
        found += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return found
    raise AssertionError("the cursor never ran out")


def cursor_of(*parts: Any) -> str:
    """A cursor as the service encodes one (URL-safe base64 of a JSON list, unpadded)."""
    raw = json.dumps(list(parts)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# --- words --------------------------------------------------------------------------------


async def test_accents_and_case_do_not_matter_either_way(
    api: httpx.AsyncClient, desk: Desk, settled: Settle
) -> None:
    await desk.book(title="Émile, ou De l'éducation", author="Jean-Jacques Rousseau")
    await desk.book(title="Emile in Paris", author="Zoé Dubois")
    await desk.book(title="Dune", author="Frank Herbert")
    await settled()
    both = {"Émile, ou De l'éducation", "Emile in Paris"}
    for query in ("emile", "EMILE", "Émile", "émile", "ÉMILE"):
        assert set(await titles(api, q=query)) == both, query
    for query in ("zoe", "Zoé", "ZOE"):
        assert await titles(api, q=query) == ["Emile in Paris"], query
    assert await titles(api, q="education") == ["Émile, ou De l'éducation"]
    assert await titles(api, q="ÉDUCATION rousseau") == ["Émile, ou De l'éducation"]


async def test_words_are_prefixes_and_title_and_author_words_combine(
    api: httpx.AsyncClient, desk: Desk, settled: Settle
) -> None:
    await desk.book(title="Dune", author="Frank Herbert")
    await desk.book(title="Dune Road", author="Jane Smith")
    await desk.book(title="The Herbert Garden", author="Ann Lee")
    await settled()
    assert set(await titles(api, q="dun")) == {"Dune", "Dune Road"}
    assert set(await titles(api, q="herb")) == {"Dune", "The Herbert Garden"}
    assert await titles(api, q="dune herbert") == ["Dune"]
    assert await titles(api, q="herbert dune") == ["Dune"]
    assert await titles(api, q="  Dune,   HERB… ") == ["Dune"]  # punctuation is no syntax
    assert await titles(api, q="dune garden") == []  # every word must be there


async def test_isbn_in_any_form_in_q_or_in_isbn(
    api: httpx.AsyncClient, desk: Desk, settled: Settle
) -> None:
    await desk.book(title="Dune", isbn="0-441-17271-7")
    await desk.book(title="Ends in X", author="Some One", isbn="080442957X")
    await desk.book(title="No ISBN", author="Nobody")
    await settled()
    dune = ("978-0-441-17271-9", "9780441172719", "0-441-17271-7", "0441172717")
    ends_in_x = ("0-8044-2957-X", "080442957x", "978-0-8044-2957-3", "9780804429573")
    for forms, title in ((dune, "Dune"), (ends_in_x, "Ends in X")):
        for form in forms:
            assert await titles(api, q=form) == [title], form
            assert await titles(api, isbn=form) == [title], form
    assert await titles(api, q="978-1-4028-9462-6") == []  # a valid ISBN of no book here
    assert await titles(api, isbn="0441172717", title="dune") == ["Dune"]
    assert await titles(api, isbn="0441172717", title="ends") == []


# --- filters and relevance ----------------------------------------------------------------


async def test_filters_combine_with_q(api: httpx.AsyncClient, desk: Desk, settled: Settle) -> None:
    herbert = await desk.book(title="Dune", author="Frank Herbert")
    smith = await desk.book(title="Dune Road", author="Jane Smith")
    await desk.book(title="Children of Dune", author="Frank Herbert")
    patron = await desk.patron()
    borrowed = await api.post(f"/books/{herbert['id']}/borrow", json={"patron_id": patron["id"]})
    assert borrowed.status_code == 201, borrowed.text
    await settled()

    assert set(await titles(api, q="dune", author="herbert")) == {"Dune", "Children of Dune"}
    assert await titles(api, q="dune", author="smith") == ["Dune Road"]
    assert await titles(api, q="road", author="herbert") == []
    on_shelf = await search(api, q="dune", available="true")
    assert {b["title"] for b in on_shelf} == {"Dune Road", "Children of Dune"}
    assert [b["id"] for b in await search(api, q="dune", available="false")] == [herbert["id"]]
    assert await titles(api, q="dune", author="herbert", available="true") == ["Children of Dune"]
    assert await titles(api, q="dune", title="road") == ["Dune Road"]
    assert [b["id"] for b in await search(api, q="jane", available="true")] == [smith["id"]]


async def test_a_title_match_ranks_above_weaker_matches(
    api: httpx.AsyncClient, desk: Desk, settled: Settle
) -> None:
    """The exact word in a short title beats the word as a prefix of a longer one and the
    word found only in a long entry. (Books without the word make it a rare one, as in a real
    catalogue: FTS5's bm25 gives a word in most entries next to no weight.)"""
    for n in range(6):
        await desk.book(title=f"Filler {n}", author="Somebody Else")
    await desk.book(title="The Dunes of the Northern Coast Revisited", author="Ann Marie Lee")
    await desk.book(title="A Long History of Desert Travel and Trade", author="Mary Dunewood")
    await desk.book(title="Dune", author="Frank Herbert")
    await desk.book(title="Walking the Sand Dunes of the Namib", author="Olga Novak")
    await settled()
    ranked = await titles(api, q="dune")
    assert len(ranked) == 4
    assert ranked[0] == "Dune"


async def test_ranked_pages_walk_every_match_once_in_a_stable_order(
    api: httpx.AsyncClient, desk: Desk, settled: Settle
) -> None:
    # Ties on purpose (identical entries rank alike), then ever longer, weaker entries.
    for _ in range(4):
        await desk.book(title="Garden", author="Ann Lee")
    for n in range(9):
        await desk.book(title=f"The Garden {'and More ' * n}", author=f"Writer {n}")
    await desk.book(title="Orchard", author="Nobody Here")
    await settled()

    whole = await search(api, q="garden", limit=200)
    assert len(whole) == 13
    for limit in (1, 2, 5):
        walked = await walk(api, q="garden", limit=limit)
        assert [b["id"] for b in walked] == [b["id"] for b in whole], limit
    assert [b["id"] for b in await walk(api, q="garden", limit=3)] == [b["id"] for b in whole]


async def test_title_pages_walk_every_book_once(
    api: httpx.AsyncClient, desk: Desk, settled: Settle
) -> None:
    for title in ("b", "a", "c", "a", "B", "ä"):
        await desk.book(title=title, author="Same Author")
    await settled()
    whole = await search(api, limit=200)
    walked = await walk(api, limit=2)
    assert [b["id"] for b in walked] == [b["id"] for b in whole]
    assert len({b["id"] for b in walked}) == 6


# --- cursors ------------------------------------------------------------------------------


def assert_cursor_problem(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["query.cursor"]


NO_BOOK = "00000000-0000-0000-0000-000000000000"
BAD_CURSORS = {
    "not base64": "not a cursor",
    "not base64 either": "%%%",
    "an object": "e30",  # {}
    "one part": cursor_of("t:Dune"),
    "three parts (a patrons cursor)": cursor_of("Dune", "x", "y"),
    "not a uuid": cursor_of("t:Dune", "not-a-uuid"),
    "a number": cursor_of(1, NO_BOOK),
    "a NUL": cursor_of("t:Dune\u0000", NO_BOOK),
    "nulls": cursor_of(None, None),
}
BAD_RANK_CURSORS = {
    "a title cursor": cursor_of("t:Dune", NO_BOOK),
    "a title without its order": cursor_of("Dune", NO_BOOK),
    "a rank without its order": cursor_of("0.5", NO_BOOK),
    "the shape of a loans cursor": cursor_of("2026-03-02T10:00:00+00:00", NO_BOOK),
    **{
        f"rank {rank or 'empty'}": cursor_of(f"r:{rank}", NO_BOOK)
        for rank in ("NaN", "sNaN", "Infinity", "-Infinity", "1e999999", "1e6", "0.1234567", "")
    },
    "a rank and no uuid": cursor_of("r:0.5", "not-a-uuid"),
    **{
        f"popularity {copies or 'empty'}": cursor_of(f"p:{copies}", NO_BOOK)
        for copies in ("-1", "1.5", "abc", "\u0661", "9999999999", " 1", "")
    },
    "popularity and no uuid": cursor_of("p:3", "not-a-uuid"),
}


@pytest.mark.parametrize("cursor", BAD_CURSORS.values(), ids=BAD_CURSORS.keys())
async def test_a_malformed_cursor_is_a_problem_naming_it(
    api: httpx.AsyncClient, desk: Desk, settled: Settle, cursor: str
) -> None:
    await desk.book()
    await settled()
    for params in ({}, {"q": "dune"}):
        assert_cursor_problem(await api.get("/books", params=params | {"cursor": cursor}))


@pytest.mark.parametrize("cursor", BAD_RANK_CURSORS.values(), ids=BAD_RANK_CURSORS.keys())
async def test_a_cursor_that_is_not_a_ranked_one_is_a_problem_in_a_search(
    api: httpx.AsyncClient, desk: Desk, settled: Settle, cursor: str
) -> None:
    await desk.book()
    await settled()
    assert_cursor_problem(await api.get("/books", params={"q": "dune", "cursor": cursor}))


async def test_a_ranked_cursor_is_a_problem_in_the_title_list(
    api: httpx.AsyncClient, desk: Desk, settled: Settle
) -> None:
    for _ in range(3):
        await desk.book()
    await settled()
    ranked = (await api.get("/books", params={"q": "dune", "limit": 1})).json()["next_cursor"]
    titled = (await api.get("/books", params={"limit": 1})).json()["next_cursor"]
    assert ranked and titled
    assert_cursor_problem(await api.get("/books", params={"cursor": ranked}))
    assert_cursor_problem(await api.get("/books", params={"q": "dune", "cursor": titled}))


async def test_a_common_word_lists_its_books_most_copies_first_page_by_page(
    api: httpx.AsyncClient, desk: Desk, settled: Settle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A word too common to rank every entry holding it lists them in popularity order (most
    copies first, then by id, descending); here every word counts as common."""
    monkeypatch.setattr(postgres_search, "RANKED_AT_MOST", 0)
    monkeypatch.setattr(sqlite_search, "RANKED_AT_MOST", 0)
    for n in range(7):
        book = await desk.book(title=f"Garden {n}", author="Ann Lee")
        for c in range(n % 3):
            added = await api.post(f"/books/{book['id']}/copies", json={"barcode": f"G{n}-{c}"})
            assert added.status_code == 201, added.text
    await desk.book(title="Orchard", author="Nobody Here")
    await settled()

    whole = await search(api, q="garden", limit=200)
    expected = sorted(whole, key=lambda b: (b["copies_total"], b["id"]), reverse=True)
    assert len(whole) == 7 and whole == expected
    for limit in (1, 2, 5):
        assert await walk(api, q="garden", limit=limit) == whole, limit
    spread = await walk(api, q="garden", limit=2, available="true")
    assert spread == [b for b in whole if b["copies_available"] > 0]
    popular = (await api.get("/books", params={"q": "garden", "limit": 1})).json()["next_cursor"]
    assert base64.urlsafe_b64decode(popular + "==").startswith(b'["p:')
    assert_cursor_problem(await api.get("/books", params={"cursor": popular}))


async def test_a_cursor_with_unusual_text_is_never_a_server_error(
    api: httpx.AsyncClient, desk: Desk, settled: Settle
) -> None:
    await desk.book()
    await settled()
    odd = ["\ud800", "x" * 600, "'; DROP TABLE book_search; --", "日本語", ""]
    for text in [*odd, *(f"t:{t}" for t in odd), *(f"r:{t}" for t in odd)]:
        for params in ({}, {"q": "dune"}):
            cursor = cursor_of(text, NO_BOOK)
            response = await api.get("/books", params=params | {"cursor": cursor})
            assert response.status_code in (200, 422), (text[:10], response.text)
            if response.status_code == 422:
                assert_cursor_problem(response)


# --- typos (PostgreSQL's trigrams) ----------------------------------------------------------


async def test_a_typo_still_finds_the_book_on_postgresql_only(
    api: httpx.AsyncClient, desk: Desk, settled: Settle, backend: str
) -> None:
    """pg_trgm's word similarity over its 0.6 threshold: `dunee` (a letter more) shares 4 of
    its 6 trigrams with `dune` (0.67), `herbet` (a letter less) 0.71. Transposed or doubled
    letters inside a short word fall below it: `herbret` 0.5, `dunne` 0.57, and find nothing."""
    await desk.book(title="Dune", author="Frank Herbert")
    await desk.book(title="Orchard", author="Ann Lee")
    await settled()
    if backend == "postgresql":
        assert await titles(api, q="dunee") == ["Dune"]
        assert await titles(api, q="Herbet") == ["Dune"]
        assert await titles(api, q="HERBERTT") == ["Dune"]
    else:  # FTS5 has no typo tolerance
        for typo in ("dunee", "herbet", "herbertt"):
            assert await titles(api, q=typo) == [], typo
    for beyond in ("herbret", "dunne"):
        assert await titles(api, q=beyond) == [], beyond


async def test_exact_words_bring_no_fuzzy_extras(
    api: httpx.AsyncClient, desk: Desk, settled: Settle, backend: str
) -> None:
    """`dunes` is a typo-distance from `dune` (0.67), but `The Dunes` has the word itself:
    only it comes back. `dunee` matches no entry's words, so both near ones come back."""
    await desk.book(title="Dune", author="Frank Herbert")
    await desk.book(title="The Dunes", author="Ann Lee")
    await settled()
    assert await titles(api, q="dunes") == ["The Dunes"]
    assert set(await titles(api, q="dune")) == {"Dune", "The Dunes"}
    if backend == "postgresql":
        assert set(await titles(api, q="dunee")) == {"Dune", "The Dunes"}


# --- availability follows circulation -----------------------------------------------------


async def test_availability_follows_borrow_return_and_hold(
    api: httpx.AsyncClient, desk: Desk, settled: Settle
) -> None:
    book = await desk.book(title="Dune", author="Frank Herbert")
    ada = await desk.patron()
    bob = await desk.patron("bob@example.org", first_name="Bob")

    async def shown() -> tuple[int, int, int, str, bool]:
        await settled()
        (hit,) = await search(api, q="dune")
        assert hit == (await search(api))[0] == (await search(api, isbn=None))[0]
        return (
            hit["copies_total"],
            hit["copies_available"],
            hit["holds_waiting"],
            hit["status"],
            hit["is_borrowed"],
        )

    assert await shown() == (1, 1, 0, "available", False)
    loan = await api.post(f"/books/{book['id']}/borrow", json={"patron_id": ada["id"]})
    assert loan.status_code == 201, loan.text
    assert await shown() == (1, 0, 0, "borrowed", True)

    hold = await api.post(f"/books/{book['id']}/holds", json={"patron_id": bob["id"]})
    assert hold.status_code == 201 and hold.json()["status"] == "waiting", hold.text
    assert await shown() == (1, 0, 1, "borrowed", True)

    returned = await api.post(f"/books/{book['id']}/return", json={})
    assert returned.status_code == 200, returned.text
    assert await shown() == (1, 0, 0, "on_hold_shelf", False)
    assert await titles(api, q="dune", available="true") == []

    cancelled = await api.post(f"/holds/{hold.json()['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert await shown() == (1, 1, 0, "available", False)
    assert await titles(api, q="dune", available="true") == ["Dune"]

    copy = await api.post(f"/books/{book['id']}/copies", json={})
    assert copy.status_code == 201, copy.text
    assert await shown() == (2, 2, 0, "available", False)

"""The desk's writes in the crash tests: workers borrowing and returning over HTTP, each with a
one-copy book of its own, and a ledger of every answer and of every write acknowledged (a 2xx),
which must all be found in the database after the crash.

A write whose answer was lost (an error, or no answer) may or may not have committed; the
worker then finds its way on (a 409 on a borrow means an unanswered borrow did commit: it returns
the book by its id and goes on)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import uuid4

import httpx

#: A pause after an error answer, so a worker does not spin while the database is down.
ERROR_PAUSE_SECONDS = 0.05


@dataclass(frozen=True)
class Answer:
    started: float
    at: float
    write: str  # "borrow" or "return"
    status: int | str  # the HTTP status, or the transport error's name when there was none
    retry_after: str | None = None  # the Retry-After header, if any


@dataclass
class Ledger:
    loans: list[str] = field(default_factory=list)  # every loan a borrow answered 201 for
    returned: list[str] = field(default_factory=list)  # every loan a return answered 200 for
    answers: list[Answer] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        return len(self.loans) + len(self.returned)

    def within(self, start: float, end: float = float("inf")) -> list[Answer]:
        """The answers to requests sent at or after `start` and answered before `end`."""
        return [a for a in self.answers if a.started >= start and a.at < end]

    def statuses(self, start: float = 0.0, end: float = float("inf")) -> Counter[int | str]:
        return Counter(a.status for a in self.within(start, end))

    def successes_since(self, start: float) -> int:
        return sum(1 for a in self.within(start) if isinstance(a.status, int) and a.status < 300)


async def seed_pairs(api: httpx.AsyncClient, count: int) -> list[tuple[str, str]]:
    """`count` (book id, patron id): each patron with a one-copy book of their own."""
    made = []
    for n in range(count):
        book = await api.post("/books", json={"title": f"Crash {n}", "author": "Test", "copies": 1})
        patron = await api.post(
            "/patrons",
            json={
                "first_name": f"P{n}",
                "last_name": "Crash",
                "email": f"{uuid4().hex}@crash.test",
            },
        )
        assert book.status_code == 201 and patron.status_code == 201, (book.text, patron.text)
        made.append((book.json()["id"], patron.json()["id"]))
    return made


async def circulate(
    api: httpx.AsyncClient, pair: tuple[str, str], ledger: Ledger, stop: asyncio.Event
) -> None:
    """Borrows and returns the pair's book until `stop` is set."""
    book_id, patron_id = pair
    open_loan: str | None = None
    while not stop.is_set():
        if open_loan is None:
            body = {"patron_id": patron_id}
            answer = await _send(api, ledger, "borrow", f"/books/{book_id}/borrow", body)
            if answer is not None and answer.status_code == 201:
                open_loan = answer.json()["id"]
                ledger.loans.append(open_loan)
            elif answer is not None and answer.status_code == 409:
                # On loan already: a borrow committed whose answer never came. Take it back.
                await _send(api, ledger, "return", f"/books/{book_id}/return", {})
        else:
            answer = await _send(api, ledger, "return", f"/loans/{open_loan}/return", None)
            if answer is not None and answer.status_code == 200:
                ledger.returned.append(open_loan)
                open_loan = None
            elif answer is not None and answer.status_code == 409:
                open_loan = None  # returned already, by a return whose answer never came
        if answer is None or answer.status_code >= 500:
            await asyncio.sleep(ERROR_PAUSE_SECONDS)


async def _send(
    api: httpx.AsyncClient, ledger: Ledger, write: str, path: str, body: object
) -> httpx.Response | None:
    started = time.monotonic()
    try:
        response = await api.post(path, json=body)
    except httpx.TransportError as error:
        ledger.answers.append(Answer(started, time.monotonic(), write, type(error).__name__))
        return None
    retry_after = response.headers.get("Retry-After")
    ledger.answers.append(
        Answer(started, time.monotonic(), write, response.status_code, retry_after)
    )
    return response


async def until(condition: Callable[[], bool], *, within: float, what: str) -> None:
    """Polls a plain predicate (no I/O) every 20 ms; fails after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.02)

"""Tools of the fault matrix (test_fault_matrix.py): the API served over loopback HTTP, desk
workers that borrow, return and read while recording every answer, and the report of figures."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx
import uvicorn

from shelfmark.bootstrap import Shelfmark
from shelfmark.entrypoints.http.app import create_app
from shelfmark.entrypoints.workers.background import Background, Role
from tests.fault.traffic import percentile
from tests.support.auth import as_librarian
from tests.support.broker import eventually

Phase = Literal["during", "after"]
Kind = Literal["read", "write"]


@dataclass(frozen=True)
class Answer:
    phase: Phase
    kind: Kind
    seconds: float
    status: int
    retry_after: str | None
    content_type: str


@dataclass
class Answers:
    """Every answer the desk got, and the loans it was told it made."""

    phase: Phase = "during"
    all: list[Answer] = field(default_factory=list)
    loans_made: set[str] = field(default_factory=set)

    async def timed(self, kind: Kind, request: Awaitable[httpx.Response]) -> httpx.Response:
        started = time.monotonic()
        response = await request
        self.all.append(
            Answer(
                self.phase,
                kind,
                time.monotonic() - started,
                response.status_code,
                response.headers.get("retry-after"),
                response.headers.get("content-type", ""),
            )
        )
        return response

    def of(self, phase: Phase, kind: Kind | None = None) -> list[Answer]:
        return [a for a in self.all if a.phase == phase and kind in (None, a.kind)]

    def statuses(self, phase: Phase, kind: Kind | None = None) -> Counter[int]:
        return Counter(a.status for a in self.of(phase, kind))

    def p99_ms(self, phase: Phase) -> float:
        return percentile([a.seconds * 1000 for a in self.of(phase)], 0.99)

    def slowest(self, phase: Phase) -> float:
        return max((a.seconds for a in self.of(phase)), default=0.0)


async def pairs(api: httpx.AsyncClient, count: int) -> list[tuple[str, str]]:
    """`count` (book, patron) pairs, each book with one copy, made concurrently."""

    async def pair(n: int) -> tuple[str, str]:
        book = await api.post("/books", json={"title": f"Fault {n}", "author": "T", "copies": 1})
        patron = await api.post(
            "/patrons",
            json={"first_name": f"P{n}", "last_name": "Fault", "email": f"p{n}@fault.test"},
        )
        assert book.status_code == patron.status_code == 201, (book.text, patron.text)
        return book.json()["id"], patron.json()["id"]

    return list(await asyncio.gather(*(pair(n) for n in range(count))))


#: The desk does not know whether a write that failed took effect; it asks before going on.
UNKNOWN = "unknown"


async def desk(
    api: httpx.AsyncClient,
    pair: tuple[str, str],
    answers: Answers,
    steps: int | None = None,
    until: Callable[[], bool] = lambda: False,
    loan: str | None = UNKNOWN,
) -> None:
    """One librarian at one (book, patron) pair: a read of the book, then the next write (borrow
    or return), over and over, for `steps` steps or until `until()`. `loan` is the patron's
    open loan of the book, None if none; after a failed write the patron's loans are read to
    learn whether it happened."""
    book_id, patron_id = pair
    done = 0
    while not until() and (steps is None or done < steps):
        done += 1
        await answers.timed("read", api.get(f"/books/{book_id}"))
        if loan == UNKNOWN:
            read = await answers.timed("read", api.get(f"/patrons/{patron_id}/loans?status=active"))
            if read.status_code == 200:
                loan = next((item["id"] for item in read.json()["items"]), None)
        elif loan is None:
            borrow = api.post(f"/books/{book_id}/borrow", json={"patron_id": patron_id})
            borrowed = await answers.timed("write", borrow)
            loan = borrowed.json()["id"] if borrowed.status_code == 201 else UNKNOWN
            if loan != UNKNOWN:
                answers.loans_made.add(loan)
        else:
            returned = await answers.timed("write", api.post(f"/loans/{loan}/return"))
            loan = None if returned.status_code == 200 else UNKNOWN


@contextlib.asynccontextmanager
async def served(app: Shelfmark, roles: list[Role]) -> AsyncIterator[httpx.AsyncClient]:
    """The app's workers and its API on a free loopback port (uvicorn, in this event loop),
    and an HTTP client for that API as a librarian."""
    background = Background(app, roles)
    config = uvicorn.Config(
        create_app(shelfmark=app),
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started or serving.done()

    background.start()
    try:
        await eventually(started, within=10, what="uvicorn listening")
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            auth=as_librarian(app),
            timeout=30,
            limits=httpx.Limits(max_connections=32),
        ) as client:
            yield client
    finally:
        server.should_exit = True
        await serving
        await background.stop()


@dataclass(frozen=True)
class Figures:
    """One row of bench/results/faults.md."""

    dependency: str
    fault: str
    requests: int
    during: Counter[int]
    after: Counter[int]
    p99_during_ms: float
    p99_after_ms: float
    slowest_s: float
    recovery_s: float
    settled_s: float
    events: int
    emails: int
    lost: int
    dead_lettered: int
    doubled: int


def _counts(statuses: Counter[int]) -> str:
    return ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))


def write_report(
    path: Path, rows: list[Figures], *, budget: float, fault_seconds: float, desks: int
) -> None:
    lines = [
        "# Fault matrix",
        "",
        "Generated by `make faults` (tests/fault/test_fault_matrix.py, with "
        "SHELFMARK_FAULTS_REPORT set). For each dependency and fault, a TCP proxy between the "
        f"service and the real server injects the fault for {fault_seconds:g} s while {desks} "
        "librarians borrow, return and read over loopback HTTP; then the fault is cleared and "
        "they go on. Request budget "
        f"{budget:g} s. *Recovery*: from clearing the fault to the first successful write and "
        "read; *settled*: to every event applied and every e-mail sent (for etcd also the "
        "loan period changed in etcd during the fault applied; for the replica also readiness "
        "reporting it in use again). *Lost* counts events "
        "never applied, e-mails never sent, acknowledged loans missing and events a consumer "
        "dead-lettered (also shown alone: they wait in a dead-letter queue for a replay); "
        "*doubled* counts events applied twice and e-mails received twice.",
        "",
        "| dependency | fault | requests | statuses during | statuses after | p99 during "
        "| p99 after | slowest | recovery | settled | events | e-mails | lost | dead-lettered "
        "| doubled |",
        "|---|---|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    lines += [
        f"| {r.dependency} | {r.fault} | {r.requests} | {_counts(r.during)} "
        f"| {_counts(r.after)} | {r.p99_during_ms:.0f} ms | {r.p99_after_ms:.0f} ms "
        f"| {r.slowest_s:.2f} s | {r.recovery_s:.2f} s | {r.settled_s:.2f} s | {r.events} "
        f"| {r.emails} | {r.lost} | {r.dead_lettered} | {r.doubled} |"
        for r in rows
    ]
    if any(r.dead_lettered for r in rows):
        lines += [
            "",
            "Dead-lettered events are a known bug, an expected failure (xfail) of the test: a "
            "consumer that gets an event while the database is down gives up after its three "
            "quick attempts instead of waiting for the database. `shelfmark dead-letters replay` "
            "applies them once it is back.",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

"""Desk traffic for the fault tests: pairs of (patron, one-copy book), each worker borrowing
and returning over the HTTP API in turn, every answer's status and latency recorded."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class Answer:
    started: float
    seconds: float
    status: int


@dataclass
class Traffic:
    answers: list[Answer] = field(default_factory=list)

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for answer in self.answers:
            counts[answer.status] = counts.get(answer.status, 0) + 1
        return counts

    def latencies_ms(self, start: float = 0.0, end: float = float("inf")) -> list[float]:
        return [a.seconds * 1000 for a in self.answers if start <= a.started < end]


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(values: list[float]) -> str:
    if not values:
        return "no requests"
    return (
        f"{len(values)} requests, p50 {statistics.median(values):.1f} ms, "
        f"p95 {percentile(values, 0.95):.1f} ms, p99 {percentile(values, 0.99):.1f} ms"
    )


async def pairs(api: httpx.AsyncClient, count: int) -> list[tuple[str, str]]:
    """`count` patrons, each with a one-copy book of their own."""
    made = []
    for n in range(count):
        book = await api.post("/books", json={"title": f"Fault {n}", "author": "Test", "copies": 1})
        patron = await api.post(
            "/patrons",
            json={"first_name": f"P{n}", "last_name": "Fault", "email": f"p{n}@fault.test"},
        )
        assert book.status_code == 201 and patron.status_code == 201, (book.text, patron.text)
        made.append((book.json()["id"], patron.json()["id"]))
    return made


async def borrow_and_return(
    api: httpx.AsyncClient,
    pair: tuple[str, str],
    cycles: int,
    traffic: Traffic,
    pause: float,
) -> None:
    """`cycles` borrow + return, paced by `pause` seconds between requests (pacing spreads the
    run over the outage; nothing is asserted about time)."""
    book_id, patron_id = pair
    await asyncio.sleep(pause * (hash(book_id) % 100) / 100)  # staggered starts
    for _ in range(cycles):
        borrowed = await _timed(
            traffic, api.post(f"/books/{book_id}/borrow", json={"patron_id": patron_id})
        )
        await asyncio.sleep(pause)
        if borrowed.status_code == 201:
            await _timed(traffic, api.post(f"/loans/{borrowed.json()['id']}/return"))
        await asyncio.sleep(pause)


async def _timed(traffic: Traffic, request: object) -> httpx.Response:
    started = time.monotonic()
    response: httpx.Response = await request  # type: ignore[misc]
    traffic.answers.append(Answer(started, time.monotonic() - started, response.status_code))
    return response

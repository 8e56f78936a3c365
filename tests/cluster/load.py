"""A desk's load on a running deployment, for the drills: each virtual user registers a patron,
adds a book, lends it, reads it, takes it back and reads the patron and the loan, over and over.
Every answer is checked; every write the API acknowledged is looked for in the database after.
A request is sent once: a connection closed without an answer is a failure. Every POST carries
an Idempotency-Key, as a desk's client would, and the drills check that no write was doubled.
With `resend_502`, a POST that nginx itself answers 502 is sent once more with the same key, as
a client crossing a deploy would: the rolling restart's one open window (docs/deployment.md) is
a connection still in a stopping process's listen backlog, which the kernel resets with the
request unread, and a POST nginx does not pass to another process. The key makes the second
send safe even had the first been applied; the count is reported.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from shelfmark.access.application.handlers import Principal
from shelfmark.access.domain.model import Role
from shelfmark.bootstrap.security import token_service
from shelfmark.config import Settings
from shelfmark.seedwork.clock import SystemClock
from shelfmark.seedwork.infrastructure.database import create_engines
from tests.support.auth import DESK_ACCOUNT
from tests.support.databases import service_missing


def cluster_env(name: str) -> str:
    """A variable that `deploy/cluster.sh up` writes to the cluster's env file."""
    value = os.environ.get(name)
    if not value:
        service_missing("a running cluster (make test-cluster)", KeyError(name))
    return str(value)


class DeskToken(httpx.Auth):
    def __init__(self) -> None:
        secret = cluster_env("SHELFMARK_JWT_SECRET")
        self.tokens = token_service(Settings(jwt_secret=secret), SystemClock())
        self.principal = Principal(DESK_ACCOUNT, "desk", Role.LIBRARIAN, None)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.tokens.issue(self.principal).access_token
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


class Refused(Exception):
    pass


@dataclass(frozen=True)
class Failure:
    sent: float  # time.monotonic() when the request was sent
    ended: float  # and when it failed
    what: str


@dataclass
class Figures:
    requests: int = 0
    sent_again: int = 0
    failures: list[Failure] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    patrons: list[str] = field(default_factory=list)
    books: list[str] = field(default_factory=list)
    returned_loans: list[str] = field(default_factory=list)
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    started: float = field(default_factory=time.monotonic)

    def summary(self) -> str:
        seconds = time.monotonic() - self.started
        return (
            f"{self.requests} requests in {seconds:.0f} s ({self.requests / seconds:.0f}/s), "
            f"{len(self.failures)} failed, {self.sent_again} sent again after nginx's 502; "
            f"acknowledged writes: {len(self.patrons)} patrons, "
            f"{len(self.books)} books, {len(self.returned_loans)} loans lent and returned"
        )


async def run_load(seconds: float, users: int, *, resend_502: bool = False) -> Figures:
    figures = Figures()
    run = figures.run
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(
        base_url=cluster_env("SHELFMARK_E2E_URL"), auth=DeskToken(), timeout=30, limits=limits
    ) as client:

        async def call(method: str, path: str, expect: int, **kwargs: Any) -> dict[str, Any]:
            figures.requests += 1
            sent = time.monotonic()
            if method == "POST":
                kwargs["headers"] = {"Idempotency-Key": uuid.uuid4().hex}
            try:
                response = await client.request(method, path, **kwargs)
                if resend_502 and method == "POST" and _from_nginx_502(response):
                    figures.sent_again += 1
                    response = await client.request(method, path, **kwargs)
            except httpx.HTTPError as error:
                failure = f"{method} {path}: {error!r}"
                figures.failures.append(Failure(sent, time.monotonic(), failure))
                raise Refused from None
            figures.statuses[response.status_code] += 1
            if response.status_code != expect:
                failure = f"{method} {path}: {response.status_code} {response.text[:200]}"
                figures.failures.append(Failure(sent, time.monotonic(), failure))
                raise Refused
            return dict(response.json())

        async def user(n: int, deadline: float) -> None:
            i = 0
            while time.monotonic() < deadline:
                i += 1
                email = f"load-{run}-{n}-{i}@example.org"
                try:
                    body = {"first_name": "Load", "last_name": f"User {n}", "email": email}
                    patron = (await call("POST", "/patrons", 201, json=body))["id"]
                    figures.patrons.append(patron)
                    book_body = {"title": f"Load {run} {n} {i}", "author": "Drill"}
                    book = (await call("POST", "/books", 201, json=book_body))["id"]
                    figures.books.append(book)
                    lend = {"patron_id": patron}
                    loan = (await call("POST", f"/books/{book}/borrow", 201, json=lend))["id"]
                    await call("GET", f"/books/{book}", 200)
                    await call("POST", f"/loans/{loan}/return", 200)
                    figures.returned_loans.append(loan)
                    await call("GET", f"/patrons/{patron}", 200)
                    await call("GET", f"/loans/{loan}", 200)
                except Refused:
                    continue

        deadline = time.monotonic() + seconds
        await asyncio.gather(*(user(n, deadline) for n in range(users)))
    return figures


def _from_nginx_502(response: httpx.Response) -> bool:
    """nginx's own 502 page: the API never answered (the API's errors are problem+json)."""
    return response.status_code == 502 and "<center>nginx</center>" in response.text


async def lost_writes(figures: Figures) -> list[str]:
    """Acknowledged writes the database does not have."""
    engines = create_engines(cluster_env("SHELFMARK_E2E_DATABASE_URL"))
    lost: list[str] = []
    checks = [
        ("patrons", "SELECT id::text FROM patrons WHERE id::text = ANY(:ids)", figures.patrons),
        ("books", "SELECT id::text FROM books WHERE id::text = ANY(:ids)", figures.books),
        (
            "returned loans",
            "SELECT id::text FROM loans WHERE id::text = ANY(:ids) AND returned_at IS NOT NULL",
            figures.returned_loans,
        ),
    ]
    try:
        async with engines.read.connect() as connection:
            for what, query, ids in checks:
                found = set((await connection.execute(text(query), {"ids": ids})).scalars())
                lost += [f"{what}: {i}" for i in ids if i not in found]
        async with engines.read.connect() as connection:
            query = text("SELECT count(*) FROM books WHERE title LIKE :run")
            stored = (await connection.execute(query, {"run": f"Load {figures.run} %"})).scalar()
            # No book twice; a POST that failed (its process killed) may have committed before
            # its answer was lost, and no more.
            unanswered = sum(1 for f in figures.failures if f.what.startswith("POST /books:"))
            if not len(figures.books) <= stored <= len(figures.books) + unanswered:
                lost.append(
                    f"books: {stored} stored for {len(figures.books)} acknowledged "
                    f"and {unanswered} unanswered"
                )
    finally:
        await engines.dispose()
    return lost


def api_pid(i: int) -> int:
    path = os.path.join(cluster_env("SHELFMARK_CLUSTER_RUN_DIR"), f"api-{i}.pid")
    with open(path) as file:
        return int(file.read())


async def wait_ready(url: str, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            try:
                if (await client.get(f"{url}/health/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{url} not ready within {seconds} s")
            await asyncio.sleep(0.2)

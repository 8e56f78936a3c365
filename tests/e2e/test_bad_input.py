"""Bad input on every POST endpoint: a 4xx problem+json that names the field or the rule, never a
500, and nothing written.

Every case runs against a small library seeded once per backend (`seed`), on SQLite and on
PostgreSQL; after each bad request every database row (outbox and idempotency keys included)
must be exactly as it was right after seeding. `test_the_table_covers_every_post_route` fails
when a POST route has no rows here, so a new endpoint cannot slip in without bad-input cases.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, Protocol
from uuid import UUID

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select, update

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.bootstrap.tables import metadata
from shelfmark.config import Settings
from shelfmark.entrypoints.http.app import create_app
from shelfmark.entrypoints.workers.scheduler import DAILY
from shelfmark.lending.infrastructure.orm import loans
from shelfmark.notifications.infrastructure.orm import notifications
from shelfmark.seedwork.infrastructure.database import Engines, create_engines
from shelfmark.seedwork.infrastructure.job_runs import job_runs
from tests.conftest import BACKENDS
from tests.e2e.conftest import Desk
from tests.support.auth import as_librarian
from tests.support.broker import eventually
from tests.support.clock import MutableClock
from tests.support.databases import sqlite_copy, truncate_all
from tests.support.deployment import E2E_URL, clean_slate, database_url, forget_cached, signing
from tests.support.events import settle_deployment

PROBLEM_JSON = "application/problem+json"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"  # well formed, never issued

# --- the seeded library ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Ref:
    """A value of the seeded library (an id, an email, a barcode), filled in when a case runs."""

    key: str


class TimeTravel(Protocol):
    """How seeding lets time pass: a loan grows old; the daily jobs run."""

    async def age(self, loan_id: str, days: int) -> None: ...

    async def run_daily_jobs(self) -> None: ...


@dataclasses.dataclass
class MovingClock:
    """In process: the test clock moves on (and every loan ages with it)."""

    clock: MutableClock
    shelfmark: Shelfmark

    async def age(self, loan_id: str, days: int) -> None:
        self.clock.advance(days=days)

    async def run_daily_jobs(self) -> None:
        await self.shelfmark.run_daily_jobs()


@dataclasses.dataclass
class BackdatedLoans:
    """Against a deployment, whose clock is the system's: the loan's dates move back instead,
    and the daily jobs run here. `today_claimed` first takes today from the deployment's
    scheduler (or waits for its run to end), so that it leaves the seeded library alone."""

    engines: Engines

    async def today_claimed(self) -> None:
        async with self.deployment_app() as app:
            now = app.clock.now()
            today = now.astimezone(app.policy.library.calendar.timezone).date()
            if await app.job_runs.claim(DAILY, today, now):
                await app.job_runs.finish(DAILY, today, now)  # the seeding runs them itself
                return

        async def finished() -> bool:
            ended = select(job_runs.c.finished_at).where(
                job_runs.c.job == DAILY, job_runs.c.day == today
            )
            async with self.engines.write.connect() as connection:
                return await connection.scalar(ended) is not None

        await eventually(finished, within=60, what="the deployment's daily jobs finished")

    async def age(self, loan_id: str, days: int) -> None:
        async with self.engines.write.begin() as connection:
            row = (await connection.execute(select(loans).where(loans.c.id == UUID(loan_id)))).one()
            back = timedelta(days=days)
            await connection.execute(
                update(loans)
                .where(loans.c.id == row.id)
                .values(
                    borrowed_at=row.borrowed_at - back,
                    due_at=row.due_at - back,
                    version=row.version + 1,
                )
            )
        await forget_cached()

    async def run_daily_jobs(self) -> None:
        async with self.deployment_app() as app:
            await app.run_daily_jobs()
        await forget_cached()

    @asynccontextmanager
    async def deployment_app(self) -> AsyncIterator[Shelfmark]:
        """The application on the deployment's database only (no broker, cache or etcd: its
        events wait in the outbox for the deployment's relay), with the built-in policy."""
        url = database_url()
        settings = Settings(database_url=url, broker_url=None, cache_url=None, etcd_endpoints=[])
        app = bootstrap(settings, engines=create_engines(url))
        try:
            yield app
        finally:
            await app.dispose()


async def seed(api: httpx.AsyncClient, desk: Desk, time: TimeTravel) -> dict[str, str]:
    """Four books, four patrons (one suspended, one owing a fine, one owed a refund), a
    returned and an active loan. Time moves on during seeding and then stands still."""
    creditor = await creditor_of(api, desk, time)
    on_loan = await desk.book(title="Dune", author="Frank Herbert", isbn="0-441-17271-7")
    on_shelf = await desk.book(title="Solaris", author="Stanislaw Lem")
    returned = await desk.book(title="Ubik", author="Philip K. Dick")
    patron = await desk.patron("ada@example.org")
    debtor = await desk.patron("grace@example.org", first_name="Grace", last_name="Hopper")
    suspended = await desk.patron("hedy@example.org", first_name="Hedy", last_name="Lamarr")
    ok = await api.post(f"/patrons/{suspended['id']}/suspend", json={"reason": "lost books"})
    assert ok.status_code == 200, ok.text

    late = await api.post("/loans", json={"patron_id": debtor["id"], "book_id": returned["id"]})
    assert late.status_code == 201, late.text
    await time.age(late.json()["id"], days=20)
    back = await api.post(f"/loans/{late.json()['id']}/return")
    assert back.status_code == 200 and back.json()["fine"] not in (None, "0.00"), back.text
    active = await api.post("/loans", json={"patron_id": patron["id"], "book_id": on_loan["id"]})
    assert active.status_code == 201, active.text
    waiting = await api.post(f"/books/{on_loan['id']}/holds", json={"patron_id": debtor["id"]})
    assert waiting.status_code == 201, waiting.text
    ended = await api.post(f"/books/{returned['id']}/holds", json={"patron_id": patron["id"]})
    cancelled = await api.post(f"/holds/{ended.json()['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text

    return {
        "book_on_loan": on_loan["id"],
        "book_on_shelf": on_shelf["id"],
        "isbn_on_loan": on_loan["isbn"],
        "barcode_on_loan": active.json()["barcode"],
        "patron": patron["id"],
        "patron_email": patron["email"],
        "debtor": debtor["id"],
        "creditor": creditor,
        "suspended": suspended["id"],
        "active_loan": active.json()["id"],
        "returned_loan": late.json()["id"],
        "waiting_hold": waiting.json()["id"],
        "cancelled_hold": ended.json()["id"],
    }


async def creditor_of(api: httpx.AsyncClient, desk: Desk, time: TimeTravel) -> str:
    """A patron the library owes 20.00: their loan aged to lost, they paid, the copy came back
    and its replacement cost was refunded."""
    creditor = await desk.patron("annie@example.org", first_name="Annie", last_name="Easley")
    book = await desk.book(title="Roadside Picnic", author="Arkady Strugatsky")
    lost = await api.post("/loans", json={"patron_id": creditor["id"], "book_id": book["id"]})
    assert lost.status_code == 201, lost.text
    await time.age(lost.json()["id"], days=60)
    await time.run_daily_jobs()
    paid = await api.post(f"/patrons/{creditor['id']}/payments", json={"amount": "30.00"})
    assert paid.status_code == 201, paid.text
    back = await api.post(f"/loans/{lost.json()['id']}/return")
    assert back.status_code == 200, back.text
    account = await api.get(f"/patrons/{creditor['id']}/account")
    assert account.json()["balance"] == "-20.00", account.text
    return str(creditor["id"])


def resolve(value: Any, world: Mapping[str, str]) -> Any:
    if isinstance(value, Ref):
        return world[value.key]
    if isinstance(value, dict):
        return {k: resolve(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, world) for v in value]
    return value


async def db_rows(engines: Engines) -> dict[str, list[str]]:
    """Every row of every table (outbox and idempotency keys included), in a stable order."""
    async with engines.read.connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in await connection.execute(select(table)))
            for table in metadata.sorted_tables
        }


# --- how a case is written -------------------------------------------------------------------

NO_BODY = object()  # the request carries no body at all
DROP = object()  # `spoil(route, ..., name=DROP)` leaves the field out


@dataclasses.dataclass(frozen=True)
class Case:
    route: str  # the FastAPI path template, as `app.routes` spells it
    name: str
    status: int
    field: str | None = None  # 422: an `errors[].field` that must appear (or one below it)
    mentions: str | None = None  # 422: a word the message for that field must contain
    code: str | None = None  # 404/409: the problem's `code` or one of its `reasons[].code`
    json: Any = NO_BODY  # serialised by the test, so lone surrogates survive
    content: bytes | None = None  # a raw body instead of `json`
    content_type: str = "application/json"
    path: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # path parameters
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.route} {self.name}"


ADD_BOOK = "/books"
ADD_COPY = "/books/{book_id}/copies"
BORROW = "/books/{book_id}/borrow"
RETURN_BOOK = "/books/{book_id}/return"
REGISTER = "/patrons"
SUSPEND = "/patrons/{patron_id}/suspend"
REINSTATE = "/patrons/{patron_id}/reinstate"
UPGRADE = "/patrons/{patron_id}/upgrade"
RENEW_MEMBERSHIP = "/patrons/{patron_id}/renew-membership"
PAY = "/patrons/{patron_id}/payments"
OPEN_LOAN = "/loans"
RENEW = "/loans/{loan_id}/renew"
RETURN_LOAN = "/loans/{loan_id}/return"
PLACE_HOLD = "/books/{book_id}/holds"
CANCEL_HOLD = "/holds/{hold_id}/cancel"
WAIVE = "/patrons/{patron_id}/waivers"
PAY_OUT = "/patrons/{patron_id}/payouts"
LOGIN = "/auth/token"
REFRESH = "/auth/refresh"

# What a route acts on unless a case says otherwise: a resource on which a *valid* request
# would succeed, so that only the bad input stands between the request and a write.
TARGET: dict[str, dict[str, Any]] = {
    ADD_COPY: {"book_id": Ref("book_on_shelf")},
    BORROW: {"book_id": Ref("book_on_shelf")},
    RETURN_BOOK: {"book_id": Ref("book_on_loan")},
    SUSPEND: {"patron_id": Ref("patron")},
    REINSTATE: {"patron_id": Ref("suspended")},
    UPGRADE: {"patron_id": Ref("patron")},
    RENEW_MEMBERSHIP: {"patron_id": Ref("patron")},
    PAY: {"patron_id": Ref("debtor")},
    RENEW: {"loan_id": Ref("active_loan")},
    RETURN_LOAN: {"loan_id": Ref("active_loan")},
    PLACE_HOLD: {"book_id": Ref("book_on_shelf")},
    CANCEL_HOLD: {"hold_id": Ref("waiting_hold")},
    WAIVE: {"patron_id": Ref("debtor")},
    PAY_OUT: {"patron_id": Ref("creditor")},
}

# A body each route accepts (on its TARGET); the cases spoil one thing in it.
VALID: dict[str, Any] = {
    ADD_BOOK: {"title": "Neuromancer", "author": "William Gibson"},
    ADD_COPY: {"barcode": "NEW-0001"},
    BORROW: {"borrower_email": Ref("patron_email")},
    RETURN_BOOK: {},
    REGISTER: {"first_name": "Mary", "last_name": "Somerville", "email": "mary@example.org"},
    SUSPEND: {"reason": "unpaid fines"},
    REINSTATE: NO_BODY,
    UPGRADE: {"category": "premium"},
    RENEW_MEMBERSHIP: NO_BODY,
    PAY: {"amount": "0.25"},
    OPEN_LOAN: {"patron_id": Ref("patron"), "book_id": Ref("book_on_shelf")},
    RENEW: NO_BODY,
    RETURN_LOAN: {},
    PLACE_HOLD: {"patron_id": Ref("patron")},
    CANCEL_HOLD: NO_BODY,
    WAIVE: {"amount": "0.25", "reason": "first offence"},
    PAY_OUT: {"amount": "20.00"},
    LOGIN: NO_BODY,  # a form, not JSON: its cases give their bodies
    REFRESH: {"refresh_token": "not.a.token"},
}


def spoil(route: str, name: str, where: str, mentions: str | None = None, **changes: Any) -> Case:
    """422 naming `where` for the route's valid body with `changes` (DROP leaves a field out)."""
    fields = {k: v for k, v in (dict(VALID[route]) | changes).items() if v is not DROP}
    return Case(route, name, 422, field=where, mentions=mentions, json=fields)


def invalid(route: str, name: str, where: str, json: Any, mentions: str | None = None) -> Case:
    """422 naming `where` for exactly this body."""
    return Case(route, name, 422, field=where, mentions=mentions, json=json)


def raw(route: str, name: str, content: bytes, content_type: str = "application/json") -> Case:
    """422 naming the body for bytes that are not the JSON object the route reads."""
    return Case(route, name, 422, field="body", content=content, content_type=content_type)


def unknown(route: str, name: str, json: Any, code: str) -> Case:
    """404 for a well-formed reference to something that does not exist."""
    return Case(route, name, 404, code=code, json=json)


def refused(route: str, name: str, code: str, json: Any = NO_BODY, **path: Any) -> Case:
    """409 listing `code` among its reasons."""
    return Case(route, name, 409, code=code, json=json, path=path)


def each(route: str, name: str, values: Iterable[tuple[str, Any]]) -> list[Case]:
    """One 422 case naming `body.<name>` per (what, value) of a table of bad values."""
    return [spoil(route, f"{name} {what}", f"body.{name}", **{name: v}) for what, v in values]


def extra_field(route: str, name: str) -> Case:
    return spoil(route, f"unknown field {name}", f"body.{name}", **{name: "x"})


# --- tables of bad values --------------------------------------------------------------------


def bad_text(max_length: int, *, required: bool = True) -> list[tuple[str, Any]]:
    values: list[tuple[str, Any]] = [
        ("a number", 42),
        ("a list", ["a"]),
        ("an object", {"a": "b"}),
        ("a bool", True),
        (f"over {max_length}", "x" * (max_length + 1)),
        ("holding a NUL", "Du\x00ne"),
        ("holding a lone surrogate", "Du\ud800ne"),
    ]
    if required:
        values += [("missing", DROP), ("null", None), ("empty", ""), ("blank", "  \t ")]
    return values


BAD_ISBN: list[tuple[str, Any]] = [
    ("a number", 9780441172719),
    ("isbn-13 bad checksum", "9780441172710"),
    ("isbn-10 bad checksum", "0-441-17271-8"),
    ("12 digits", "978044117271"),
    ("5 digits", "12345"),
    ("letters", "ISBN-DUNE-1"),
    ("X not last", "04X1172717"),
    ("over 20", "9" * 21),
    ("empty", ""),
    ("blank", "   "),
]

BAD_MONEY: list[tuple[str, Any]] = [
    ("negative", "-1.00"),
    ("negative number", -1),
    ("zero", "0"),
    ("zero with cents", "0.00"),
    ("three decimals", "1.005"),
    ("not numeric", "abc"),
    ("empty string", ""),
    ("comma decimal", "1,50"),
    ("NaN", "NaN"),
    ("Infinity", "Infinity"),
    ("too many digits", "12345678901.00"),
    ("a list", ["1.00"]),
    ("an object", {"amount": "1.00"}),
    ("a bool", True),
]

BAD_EMAIL: list[tuple[str, Any]] = [
    ("without at", "ada.example.org"),
    ("without domain", "ada@"),
    ("without local part", "@example.org"),
    ("without tld", "ada@example"),
    ("with a space", "ada lovelace@example.org"),
    ("with two ats", "ada@@example.org"),
    ("with a NUL", "ada\x00@example.org"),
    ("over 254", "a" * 64 + "@" + "b" * 186 + ".org"),
    ("a number", 42),
    ("a list", ["ada@example.org"]),
]

BAD_DATETIME: list[tuple[str, Any]] = [
    ("not a date", "yesterday"),
    ("without offset", "2026-03-22T09:00:00"),
    ("date only", "2026-03-22"),
    ("month 13", "2026-13-01T00:00:00Z"),
    ("a list", ["2026-03-22T09:00:00Z"]),
    ("a bool", True),
]

BAD_UUID: list[tuple[str, Any]] = [
    ("not a uuid", "not-a-uuid"),
    ("a number", 42),
    ("an object", {"id": UNKNOWN_ID}),
    ("too long", UNKNOWN_ID + "0"),
]

BAD_BARCODE: list[tuple[str, Any]] = [
    ("a number", 1234),
    ("over 32", "B" * 33),
    ("empty", ""),
]


# --- cases every route of a kind gets --------------------------------------------------------


def path_cases(route: str) -> list[Case]:
    """A path id that is not a UUID is 422 naming it; a well-formed unknown one is 404."""
    (param,) = TARGET[route]
    not_uuids = [
        ("not a uuid", "not-a-uuid"),
        ("a number", "12345"),
        ("too long", UNKNOWN_ID + "0"),
    ]
    where, valid = f"path.{param}", VALID[route]
    return [
        Case(route, f"{param} {what}", 422, field=where, json=valid, path={param: value})
        for what, value in not_uuids
    ] + [Case(route, f"{param} unknown", 404, json=valid, path={param: UNKNOWN_ID})]


def body_shape_cases(route: str, *, body_required: bool = True) -> list[Case]:
    """Bodies that are not a JSON object; an empty one where the route needs a body."""
    cases = [
        raw(route, "malformed json", b'{"a": "b",'),
        raw(route, "json with a trailing comma", b'{"a": 1,}'),
        raw(route, "json array instead of object", b"[{}]"),
        raw(route, "json string instead of object", b'"hello"'),
        raw(route, "json number instead of object", b"42"),
        raw(route, "not utf-8", b'{"a": "\xff\xfe"}'),
        raw(route, "plain text body", b"hello", "text/plain"),
        raw(route, "form-encoded body", b"a=b&c=d", "application/x-www-form-urlencoded"),
        raw(route, "xml body", b"<book><title>Dune</title></book>", "application/xml"),
    ]
    if body_required:
        cases += [raw(route, "empty body", b""), raw(route, "json null", b"null")]
    return cases


def header_cases(route: str) -> list[Case]:
    """An Idempotency-Key outside 1..255 characters, on an otherwise valid request."""
    return [
        Case(
            route,
            f"idempotency key {what}",
            422,
            field="header.idempotency-key",
            json=VALID[route],
            headers={"Idempotency-Key": key},
        )
        for what, key in (("empty", ""), ("over 255", "k" * 256))
    ]


# --- the table -------------------------------------------------------------------------------

ADD_BOOK_CASES = [
    *body_shape_cases(ADD_BOOK),
    raw(ADD_BOOK, "json nested 100000 deep", b"[" * 100_000),
    raw(
        ADD_BOOK,
        "integer of 5000 digits",
        b'{"title": "T", "author": "A", "copies": ' + b"9" * 5000 + b"}",
    ),
    raw(
        ADD_BOOK, "published_year 1e400", b'{"title": "T", "author": "A", "published_year": 1e400}'
    ),
    *each(ADD_BOOK, "title", bad_text(300)),
    *each(ADD_BOOK, "author", bad_text(200)),
    invalid(ADD_BOOK, "empty object", "body.title", {}),
    *each(ADD_BOOK, "isbn", BAD_ISBN),
    *each(
        ADD_BOOK,
        "published_year",
        [
            ("text", "MCMLXV"),
            ("a fraction", 1965.5),
            ("zero", 0),
            ("negative", -5),
            ("next-but-one year", 2028),
            ("huge", 10**30),
        ],
    ),
    *each(
        ADD_BOOK, "copies", [("text", "two"), ("negative", -1), ("over 100", 101), ("a list", [1])]
    ),
    *each(ADD_BOOK, "circulation", [("unknown", "lendable"), ("a number", 1), ("null", None)]),
    extra_field(ADD_BOOK, "subtitle"),
    refused(ADD_BOOK, "isbn taken", "ISBN_TAKEN", {**VALID[ADD_BOOK], "isbn": Ref("isbn_on_loan")}),
    refused(
        ADD_BOOK, "isbn taken as isbn-10", "ISBN_TAKEN", {**VALID[ADD_BOOK], "isbn": "0441172717"}
    ),
]

ADD_COPY_CASES = [
    *path_cases(ADD_COPY),
    *body_shape_cases(ADD_COPY, body_required=False),  # every field is optional
    *each(
        ADD_COPY,
        "barcode",
        [
            *BAD_BARCODE,
            ("under 4", "B12"),
            ("blank", "     "),
            ("with a space", "B 1234"),
            ("with a slash", "B/1234"),
            ("with a NUL", "B12\x0034"),
        ],
    ),
    *each(ADD_COPY, "circulation", [("unknown", "loanable"), ("null", None)]),
    *each(ADD_COPY, "replacement_cost", BAD_MONEY),
    extra_field(ADD_COPY, "shelf"),
    refused(ADD_COPY, "barcode taken", "BARCODE_TAKEN", {"barcode": Ref("barcode_on_loan")}),
]

BORROW_CASES = [
    *path_cases(BORROW),
    *body_shape_cases(BORROW),
    *each(BORROW, "patron_id", BAD_UUID),
    *each(BORROW, "borrower_email", BAD_EMAIL),
    *each(BORROW, "barcode", BAD_BARCODE),
    invalid(BORROW, "no borrower", "body", {}, mentions="patron_id"),
    invalid(BORROW, "patron_id null", "body", {"patron_id": None}, mentions="patron_id"),
    invalid(
        BORROW, "only a barcode", "body", {"barcode": Ref("barcode_on_loan")}, mentions="patron_id"
    ),
    extra_field(BORROW, "due_at"),
    unknown(BORROW, "patron_id unknown", {"patron_id": UNKNOWN_ID}, "PATRON_NOT_FOUND"),
    unknown(
        BORROW,
        "borrower_email unknown",
        {"borrower_email": "nobody@example.org"},
        "PATRON_NOT_FOUND",
    ),
    refused(
        BORROW,
        "copy on loan",
        "NO_COPY_AVAILABLE",
        {"patron_id": Ref("debtor")},
        book_id=Ref("book_on_loan"),
    ),
    refused(BORROW, "patron suspended", "PATRON_SUSPENDED", {"patron_id": Ref("suspended")}),
]

RETURN_BOOK_CASES = [
    *path_cases(RETURN_BOOK),
    *body_shape_cases(RETURN_BOOK, body_required=False),  # every field is optional
    *each(RETURN_BOOK, "borrower_email", BAD_EMAIL),
    *each(RETURN_BOOK, "barcode", BAD_BARCODE),
    *each(
        RETURN_BOOK,
        "returned_at",
        [
            *BAD_DATETIME,
            ("in the future", "2030-01-01T00:00:00Z"),
            ("before the loan", "2026-03-01T00:00:00Z"),
            ("before year 1 in UTC", "0001-01-01T00:00:00+14:00"),
        ],
    ),
    extra_field(RETURN_BOOK, "patron_id"),
    unknown(RETURN_BOOK, "barcode not on loan", {"barcode": "NOPE-0000"}, "LOAN_NOT_FOUND"),
    unknown(
        RETURN_BOOK,
        "borrower_email unknown",
        {"borrower_email": "nobody@example.org"},
        "PATRON_NOT_FOUND",
    ),
]

REGISTER_CASES = [
    *body_shape_cases(REGISTER),
    *each(REGISTER, "first_name", bad_text(100)),
    *each(REGISTER, "last_name", bad_text(100)),
    *each(REGISTER, "email", [*BAD_EMAIL, ("missing", DROP), ("null", None), ("blank", "     ")]),
    *each(REGISTER, "category", [("unknown", "gold"), ("a number", 2), ("null", None)]),
    *each(REGISTER, "membership_tier", [("unknown", "gold")]),
    invalid(REGISTER, "empty object", "body.first_name", {}),
    extra_field(REGISTER, "nickname"),
    refused(
        REGISTER, "email taken", "EMAIL_TAKEN", {**VALID[REGISTER], "email": "ada@example.org"}
    ),
    refused(
        REGISTER,
        "email taken in other case",
        "EMAIL_TAKEN",
        {**VALID[REGISTER], "email": " ADA@Example.org "},
    ),
]

SUSPEND_CASES = [
    *path_cases(SUSPEND),
    *body_shape_cases(SUSPEND),
    *each(SUSPEND, "reason", bad_text(500)),
    invalid(SUSPEND, "empty object", "body.reason", {}),
    extra_field(SUSPEND, "until"),
    refused(
        SUSPEND,
        "already suspended",
        "PATRON_ALREADY_SUSPENDED",
        VALID[SUSPEND],
        patron_id=Ref("suspended"),
    ),
]

REINSTATE_CASES = [
    *path_cases(REINSTATE),
    refused(REINSTATE, "not suspended", "PATRON_NOT_SUSPENDED", patron_id=Ref("patron")),
]

UPGRADE_CASES = [
    *path_cases(UPGRADE),
    *body_shape_cases(UPGRADE),
    *each(
        UPGRADE,
        "category",
        [
            ("missing", DROP),
            ("null", None),
            ("unknown", "gold"),
            ("a number", 2),
            ("a list", ["premium"]),
        ],
    ),
    invalid(
        UPGRADE, "membership_tier unknown", "body.membership_tier", {"membership_tier": "gold"}
    ),
    extra_field(UPGRADE, "reason"),
    refused(UPGRADE, "not an upgrade", "NOT_AN_UPGRADE", {"category": "regular"}),
]

RENEW_MEMBERSHIP_CASES = path_cases(RENEW_MEMBERSHIP)

PAY_CASES = [
    *path_cases(PAY),
    *body_shape_cases(PAY),
    *each(PAY, "amount", [*BAD_MONEY, ("missing", DROP), ("null", None)]),
    extra_field(PAY, "currency"),
    refused(PAY, "more than the balance", "PAYMENT_EXCEEDS_BALANCE", {"amount": "999.00"}),
    refused(PAY, "nothing owed", "PAYMENT_EXCEEDS_BALANCE", VALID[PAY], patron_id=Ref("patron")),
]

OPEN_LOAN_CASES = [
    *body_shape_cases(OPEN_LOAN),
    *each(OPEN_LOAN, "patron_id", [*BAD_UUID, ("missing", DROP), ("null", None)]),
    *each(OPEN_LOAN, "book_id", BAD_UUID),
    *each(
        OPEN_LOAN,
        "due_at",
        [
            *BAD_DATETIME,
            ("in the past", "2026-03-01T00:00:00Z"),
            ("after year 9999 in UTC", "9999-12-31T23:59:59-14:00"),
        ],
    ),
    *(
        spoil(OPEN_LOAN, f"barcode {what}", "body.barcode", book_id=DROP, barcode=value)
        for what, value in [*BAD_BARCODE, ("with a NUL", "B12\x0034")]
    ),
    invalid(OPEN_LOAN, "empty object", "body.patron_id", {}),
    spoil(OPEN_LOAN, "no book_id or barcode", "body", mentions="book_id", book_id=DROP),
    extra_field(OPEN_LOAN, "borrower_email"),
    unknown(
        OPEN_LOAN,
        "patron_id unknown",
        {**VALID[OPEN_LOAN], "patron_id": UNKNOWN_ID},
        "PATRON_NOT_FOUND",
    ),
    unknown(
        OPEN_LOAN, "book_id unknown", {**VALID[OPEN_LOAN], "book_id": UNKNOWN_ID}, "BOOK_NOT_FOUND"
    ),
    unknown(
        OPEN_LOAN,
        "barcode unknown",
        {"patron_id": Ref("patron"), "barcode": "NOPE-0000"},
        "COPY_NOT_FOUND",
    ),
    refused(
        OPEN_LOAN,
        "copy on loan",
        "NO_COPY_AVAILABLE",
        {"patron_id": Ref("debtor"), "book_id": Ref("book_on_loan")},
    ),
    refused(
        OPEN_LOAN,
        "patron suspended",
        "PATRON_SUSPENDED",
        {**VALID[OPEN_LOAN], "patron_id": Ref("suspended")},
    ),
]

RENEW_CASES = [
    *path_cases(RENEW),
    refused(RENEW, "loan returned", "LOAN_ALREADY_RETURNED", loan_id=Ref("returned_loan")),
]

RETURN_LOAN_CASES = [
    *path_cases(RETURN_LOAN),
    *body_shape_cases(RETURN_LOAN, body_required=False),  # the body is optional
    *each(
        RETURN_LOAN,
        "returned_at",
        [
            *BAD_DATETIME,
            ("in the future", "2030-01-01T00:00:00Z"),
            ("before the loan", "2026-03-01T00:00:00Z"),
            ("before year 1 in UTC", "0001-01-01T00:00:00+14:00"),
        ],
    ),
    extra_field(RETURN_LOAN, "fine"),
]

PLACE_HOLD_CASES = [
    *path_cases(PLACE_HOLD),
    *body_shape_cases(PLACE_HOLD),
    *each(PLACE_HOLD, "patron_id", [*BAD_UUID, ("missing", DROP), ("null", None)]),
    *each(PLACE_HOLD, "open_ended", [("a list", [True]), ("an object", {}), ("a word", "maybe")]),
    extra_field(PLACE_HOLD, "position"),
    unknown(PLACE_HOLD, "patron_id unknown", {"patron_id": UNKNOWN_ID}, "PATRON_NOT_FOUND"),
    refused(PLACE_HOLD, "patron suspended", "PATRON_SUSPENDED", {"patron_id": Ref("suspended")}),
    refused(
        PLACE_HOLD,
        "already on loan to the patron",
        "ALREADY_ON_LOAN_TO_PATRON",
        {"patron_id": Ref("patron")},
        book_id=Ref("book_on_loan"),
    ),
    refused(
        PLACE_HOLD,
        "a second hold on the book",
        "DUPLICATE_HOLD",
        {"patron_id": Ref("debtor")},
        book_id=Ref("book_on_loan"),
    ),
    refused(
        PLACE_HOLD,
        "open-ended for a regular patron",
        "OPEN_ENDED_NOT_ALLOWED",
        {"patron_id": Ref("patron"), "open_ended": True},
    ),
]

CANCEL_HOLD_CASES = [
    *path_cases(CANCEL_HOLD),
    refused(CANCEL_HOLD, "hold already ended", "HOLD_NOT_ACTIVE", hold_id=Ref("cancelled_hold")),
]

WAIVE_CASES = [
    *path_cases(WAIVE),
    *body_shape_cases(WAIVE),
    *each(WAIVE, "amount", [*BAD_MONEY, ("missing", DROP), ("null", None)]),
    *each(WAIVE, "reason", bad_text(500)),
    extra_field(WAIVE, "approved_by"),
    refused(
        WAIVE,
        "more than the balance",
        "PAYMENT_EXCEEDS_BALANCE",
        {"amount": "999.00", "reason": "goodwill"},
    ),
]

PAY_OUT_CASES = [
    *path_cases(PAY_OUT),
    *body_shape_cases(PAY_OUT),
    *each(PAY_OUT, "amount", [*BAD_MONEY, ("missing", DROP), ("null", None)]),
    extra_field(PAY_OUT, "method"),
    refused(PAY_OUT, "more than the credit", "PAYOUT_EXCEEDS_CREDIT", {"amount": "20.01"}),
    refused(
        PAY_OUT,
        "nothing owed to them",
        "PAYOUT_EXCEEDS_CREDIT",
        VALID[PAY_OUT],
        patron_id=Ref("debtor"),
    ),
]

FORM = "application/x-www-form-urlencoded"
LOGIN_CASES = [
    raw(LOGIN, "json instead of a form", b'{"username": "desk", "password": "x"}'),
    Case(
        LOGIN,
        "no password",
        422,
        field="body.password",
        content=b"username=desk",
        content_type=FORM,
    ),
    Case(
        LOGIN,
        "no username",
        422,
        field="body.username",
        content=b"password=secret",
        content_type=FORM,
    ),
    Case(LOGIN, "empty body", 422, field="body", content=b"", content_type=FORM),
    Case(
        LOGIN,
        "unknown user",
        401,
        code="UNAUTHENTICATED",
        content=b"username=nobody&password=whatever1",
        content_type=FORM,
    ),
]

REFRESH_CASES = [
    *body_shape_cases(REFRESH),
    *each(
        REFRESH,
        "refresh_token",
        [
            ("a number", 42),
            ("a list", ["t"]),
            ("missing", DROP),
            ("null", None),
            ("empty", ""),
            ("over 4096", "t" * 4097),
        ],
    ),
    extra_field(REFRESH, "scope"),
    Case(REFRESH, "not a token", 401, code="UNAUTHENTICATED", json=VALID[REFRESH]),
]

HEADER_CASES = [case for route in VALID for case in header_cases(route)]

CASES: list[Case] = [
    *ADD_BOOK_CASES,
    *ADD_COPY_CASES,
    *BORROW_CASES,
    *RETURN_BOOK_CASES,
    *REGISTER_CASES,
    *SUSPEND_CASES,
    *REINSTATE_CASES,
    *UPGRADE_CASES,
    *RENEW_MEMBERSHIP_CASES,
    *PAY_CASES,
    *OPEN_LOAN_CASES,
    *RENEW_CASES,
    *RETURN_LOAN_CASES,
    *PLACE_HOLD_CASES,
    *CANCEL_HOLD_CASES,
    *WAIVE_CASES,
    *PAY_OUT_CASES,
    *LOGIN_CASES,
    *REFRESH_CASES,
    *HEADER_CASES,
]


# --- checks ----------------------------------------------------------------------------------


def request_of(case: Case, world: Mapping[str, str]) -> tuple[str, bytes | None, dict[str, str]]:
    path = TARGET.get(case.route, {}) | dict(case.path)
    url = case.route.format(**{k: resolve(v, world) for k, v in path.items()})
    headers = dict(case.headers)
    if case.content is not None:
        return url, case.content, headers | {"content-type": case.content_type}
    if case.json is NO_BODY:
        return url, None, headers
    payload = json.dumps(resolve(case.json, world)).encode()  # ASCII: escapes lone surrogates
    return url, payload, headers | {"content-type": "application/json"}


def assert_problem(response: httpx.Response, case: Case) -> dict[str, Any]:
    assert response.status_code == case.status, (
        f"expected {case.status}, got {response.status_code}: {response.text}"
    )
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert {"type", "title", "status", "detail", "code"} <= problem.keys(), problem
    assert problem["status"] == response.status_code
    for key in ("type", "title", "detail", "code"):
        assert isinstance(problem[key], str) and problem[key], (key, problem)
    return dict(problem)


def assert_names_the_field(problem: Mapping[str, Any], case: Case) -> None:
    errors = problem.get("errors")
    assert isinstance(errors, list) and errors, f"no errors list: {problem}"
    for error in errors:
        assert isinstance(error.get("field"), str) and isinstance(error.get("message"), str), error
    assert case.field is not None
    named = [
        e for e in errors if e["field"] == case.field or e["field"].startswith(case.field + ".")
    ]
    assert named, f"{case.field} not named in {errors}"
    if case.mentions:
        assert any(case.mentions in e["message"] for e in named), named


def assert_names_the_rule(problem: Mapping[str, Any], case: Case) -> None:
    reasons = problem.get("reasons")
    assert isinstance(reasons, list) and reasons, f"a refusal lists its reasons: {problem}"
    for reason in reasons:
        assert isinstance(reason.get("code"), str) and isinstance(reason.get("detail"), str)
    codes = {problem["code"]} | {r["code"] for r in reasons}
    assert case.code in codes, f"{case.code} not in {codes}"


def post_routes(routes: Iterable[Any], prefix: str = "") -> set[str]:
    """The POST paths among `routes`, looking inside included routers (newer FastAPI keeps an
    included router as a wrapper instead of copying its routes into the app)."""
    found: set[str] = set()
    for route in routes:
        if isinstance(route, APIRoute):
            if "POST" in route.methods:
                found.add(prefix + route.path)
        elif (router := getattr(route, "original_router", None)) is not None:
            inner = prefix + getattr(getattr(route, "include_context", None), "prefix", "")
            found |= post_routes(router.routes, inner)
    return found


def app_post_routes() -> set[str]:
    app = create_app()
    routes = post_routes(app.routes)
    documented = {p for p, operations in app.openapi()["paths"].items() if "post" in operations}
    assert documented <= routes, "the route walk missed a documented POST route"
    return routes


# --- tests -----------------------------------------------------------------------------------


def test_the_table_covers_every_post_route() -> None:
    assert {case.route for case in CASES} == app_post_routes()


def test_every_route_with_an_id_has_path_cases() -> None:
    for route in (r for r in app_post_routes() if "{" in r):
        statuses = {c.status for c in CASES if c.route == route and c.path}
        assert {404, 422} <= statuses, route


def test_every_route_with_a_body_has_body_cases() -> None:
    for route in (r for r, valid in VALID.items() if valid is not NO_BODY):
        names = {c.name for c in CASES if c.route == route}
        assert {"malformed json", "plain text body", "json array instead of object"} <= names
        assert any(name.startswith("unknown field") for name in names), route


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@dataclasses.dataclass(frozen=True)
class Library:
    """The seeded library one backend's cases run against, and its rows right after seeding."""

    api: httpx.AsyncClient
    engines: Engines
    refs: dict[str, str]
    rows: dict[str, list[str]]


@pytest.fixture(scope="module", params=["deployment"] if E2E_URL else BACKENDS)
def library_engines(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Engines:
    if request.param == "deployment":
        return create_engines(database_url())
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        return sqlite_copy(template, tmp_path_factory.mktemp("bad-input"))
    return create_engines(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="module")
async def library(
    library_engines: Engines, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Library]:
    """Seeded once per backend: every case must leave it exactly as it was, so one library
    serves them all (a case that wrote anything fails, and so would the ones after it)."""
    if E2E_URL:
        async with deployed_library(library_engines) as library:
            yield library
        return
    clock = MutableClock()
    settings = Settings(var_dir=tmp_path_factory.mktemp("bad-input-var"))
    shelfmark = bootstrap(settings, clock=clock, engines=library_engines)
    transport = httpx.ASGITransport(app=create_app(shelfmark=shelfmark), raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://shelfmark.test", auth=as_librarian(shelfmark)
    ) as api:
        refs = await seed(api, Desk(api), MovingClock(clock, shelfmark))
        yield Library(api, library_engines, refs, await db_rows(library_engines))
    if library_engines.write.dialect.name == "postgresql":
        await truncate_all(library_engines)
    await library_engines.dispose()


@asynccontextmanager
async def deployed_library(engines: Engines) -> AsyncIterator[Library]:
    """The library seeded in a running deployment, through its HTTP API. Its rows are taken
    once its workers are done: every event applied and no e-mail still queued."""
    try:
        await settle_deployment(engines.write)  # the tests before: no event of theirs comes late
        await clean_slate()
        time = BackdatedLoans(engines)
        await time.today_claimed()
        auth = as_librarian(signing())
        async with httpx.AsyncClient(base_url=str(E2E_URL), auth=auth, timeout=30) as api:
            refs = await seed(api, Desk(api), time)
            await settle_deployment(engines.write)
            await mail_sent(engines)
            yield Library(api, engines, refs, await db_rows(engines))
    finally:
        await engines.dispose()


async def mail_sent(engines: Engines) -> None:
    """Until the deployment's mail sender has no e-mail left queued."""
    queued = (
        select(func.count()).select_from(notifications).where(notifications.c.status == "queued")
    )

    async def none_queued() -> bool:
        async with engines.write.connect() as connection:
            return not await connection.scalar(queued)

    await eventually(none_queued, within=30, what="every e-mail sent")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_bad_input_is_a_problem_and_changes_nothing(library: Library, case: Case) -> None:
    url, content, headers = request_of(case, library.refs)

    response = await library.api.post(url, content=content, headers=headers)

    problem = assert_problem(response, case)
    if case.status == 422:
        assert_names_the_field(problem, case)
    elif case.status == 409:
        assert_names_the_rule(problem, case)
    else:
        assert problem["code"] == case.code if case.code else problem["code"].endswith("NOT_FOUND")
    assert await db_rows(library.engines) == library.rows

"""Bad input on every POST endpoint: a 4xx problem+json that names the field or the rule, never a
500, and nothing written.

Every case runs against a small seeded library (`world`) on SQLite and on PostgreSQL. Each API
resource and every database row is read before and after the bad request and must not change.
`test_the_table_covers_every_post_route` fails when a POST route has no rows here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from shelfmark.bootstrap.tables import metadata
from shelfmark.entrypoints.http.app import create_app
from shelfmark.seedwork.infrastructure.database import Engines
from tests.e2e.conftest import Desk
from tests.support.clock import MutableClock

PROBLEM_JSON = "application/problem+json"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"  # well formed, never issued

# --- the seeded world ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Ref:
    """A value of the seeded world (an id, an email, a barcode), filled in when the case runs."""

    key: str


async def seed(api: httpx.AsyncClient, desk: Desk, clock: MutableClock) -> dict[str, str]:
    """Three books, three patrons, one returned loan (which left a fine) and one active loan."""
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
    clock.advance(days=20)
    back = await api.post(f"/loans/{late.json()['id']}/return")
    assert back.status_code == 200 and back.json()["fine"] not in (None, "0.00"), back.text
    active = await api.post("/loans", json={"patron_id": patron["id"], "book_id": on_loan["id"]})
    assert active.status_code == 201, active.text

    return {
        "book_on_loan": on_loan["id"],
        "book_on_shelf": on_shelf["id"],
        "isbn_on_loan": on_loan["isbn"],
        "barcode_on_loan": active.json()["barcode"],
        "patron": patron["id"],
        "patron_email": patron["email"],
        "debtor": debtor["id"],
        "suspended": suspended["id"],
        "active_loan": active.json()["id"],
        "returned_loan": late.json()["id"],
    }


def resolve(value: Any, world: Mapping[str, str]) -> Any:
    if isinstance(value, Ref):
        return world[value.key]
    if isinstance(value, dict):
        return {k: resolve(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, world) for v in value]
    return value


async def api_state(api: httpx.AsyncClient) -> dict[str, Any]:
    """Every list, and every resource the lists name, as the API shows them."""
    seen: dict[str, Any] = {}

    async def read(path: str) -> Any:
        response = await api.get(path)
        assert response.status_code == 200, f"GET {path}: {response.text}"
        seen[path] = response.json()
        return seen[path]

    for book in (await read("/books?limit=200"))["items"]:
        await read(f"/books/{book['id']}")
    for patron in (await read("/patrons?limit=200"))["items"]:
        await read(f"/patrons/{patron['id']}")
        await read(f"/patrons/{patron['id']}/account")
    for loan in (await read("/loans?limit=200"))["items"]:
        await read(f"/loans/{loan['id']}")
    return seen


async def db_rows(engines: Engines) -> dict[str, list[str]]:
    """Every row of every table (outbox and idempotency keys included), order-independent."""
    async with engines.read.connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in await connection.execute(select(table)))
            for table in metadata.sorted_tables
        }


# --- cases -----------------------------------------------------------------------------------

NO_BODY = object()  # the request carries no body at all
DROP = object()  # `body(route, name=DROP)` leaves the field out


@dataclasses.dataclass(frozen=True)
class Case:
    route: str  # the FastAPI path template, as `app.routes` spells it
    name: str
    status: int
    field: str | None = None  # 422: an `errors[].field` that must appear (or a deeper one)
    mentions: str | None = None  # 422: a word the message for that field must contain
    code: str | None = None  # 404/409: the problem's `code` or one of its `reasons[].code`
    json: Any = NO_BODY  # serialised by the test (so NaN and lone surrogates survive)
    content: bytes | None = None  # a raw body instead of `json`
    content_type: str = "application/json"
    path: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # path parameters to override

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

# Which resource a route acts on when a case keeps the path: one on which a *valid* request
# would succeed, so that only the bad input stands between the request and a write.
TARGET: dict[str, dict[str, Ref]] = {
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
}

# A body that the route accepts; the cases below spoil one thing in it.
VALID: dict[str, Any] = {
    ADD_BOOK: {"title": "Neuromancer", "author": "William Gibson"},
    ADD_COPY: {"barcode": "NEW-0001"},
    BORROW: {"patron_id": Ref("patron")},
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
}


def body(route: str, **changes: Any) -> dict[str, Any]:
    """The route's valid body with some fields changed (or left out with DROP)."""
    fields = dict(VALID[route]) | changes
    return {k: v for k, v in fields.items() if v is not DROP}


def invalid(route: str, name: str, where: str, json: Any, mentions: str | None = None) -> Case:
    return Case(route, name, 422, field=where, json=json, mentions=mentions)


def unknown(route: str, name: str, json: Any, code: str | None = None) -> Case:
    return Case(route, name, 404, code=code, json=json)


def refused(route: str, name: str, code: str, json: Any = NO_BODY, **path: Any) -> Case:
    return Case(route, name, 409, code=code, json=json, path=path)


def path_cases(route: str) -> list[Case]:
    """A path id that is not a UUID is 422 naming it; a well-formed unknown one is 404."""
    (param,) = TARGET[route]
    valid = VALID[route]
    return [
        Case(
            route, f"{param} not a uuid", 422, field=f"path.{param}", json=valid, path={param: bad}
        )
        for bad in ("not-a-uuid", "12345", UNKNOWN_ID + "0")
    ] + [Case(route, f"{param} unknown", 404, json=valid, path={param: UNKNOWN_ID})]


def body_shape_cases(route: str, *, body_required: bool = True) -> list[Case]:
    """Bodies that are not the JSON object the route reads."""

    def shaped(name: str, content: bytes, content_type: str = "application/json") -> Case:
        return Case(route, name, 422, field="body", content=content, content_type=content_type)

    cases = [
        shaped("malformed json", b'{"a": "b",'),
        shaped("json with a trailing comma", b'{"a": 1,}'),
        shaped("json array instead of object", b"[{}]"),
        shaped("json string instead of object", b'"hello"'),
        shaped("json number instead of object", b"42"),
        shaped("not utf-8", b'{"a": "\xff\xfe"}'),
        shaped("plain text body", b"hello", "text/plain"),
        shaped("form-encoded body", b"a=b&c=d", "application/x-www-form-urlencoded"),
        shaped("xml body", b"<book><title>Dune</title></book>", "application/xml"),
    ]
    if body_required:
        cases += [
            shaped("empty body", b""),
            shaped("json null", b"null"),
        ]
    return cases


def text_cases(route: str, name: str, max_length: int, *, required: bool = True) -> list[Case]:
    """The usual ways to spoil a bounded text field."""
    where = f"body.{name}"
    cases = [
        invalid(route, f"{name} is a number", where, body(route, **{name: 42})),
        invalid(route, f"{name} is a list", where, body(route, **{name: ["a"]})),
        invalid(route, f"{name} is an object", where, body(route, **{name: {"a": "b"}})),
        invalid(route, f"{name} is a bool", where, body(route, **{name: True})),
        invalid(
            route, f"{name} over {max_length}", where, body(route, **{name: "x" * (max_length + 1)})
        ),
        invalid(route, f"{name} holds a NUL", where, body(route, **{name: "Du\x00ne"})),
        invalid(
            route, f"{name} holds a lone surrogate", where, body(route, **{name: "Du\ud800ne"})
        ),
    ]
    if required:
        cases += [
            invalid(route, f"{name} missing", where, body(route, **{name: DROP})),
            invalid(route, f"{name} null", where, body(route, **{name: None})),
            invalid(route, f"{name} empty", where, body(route, **{name: ""})),
            invalid(route, f"{name} blank", where, body(route, **{name: "  \t "})),
        ]
    return cases


def money_cases(route: str, name: str) -> list[Case]:
    where = f"body.{name}"
    amounts: list[tuple[str, Any]] = [
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
    return [
        invalid(route, f"{name} {what}", where, body(route, **{name: v})) for what, v in amounts
    ]


def email_cases(route: str, name: str) -> list[Case]:
    where = f"body.{name}"
    addresses: list[tuple[str, Any]] = [
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
    return [
        invalid(route, f"{name} {what}", where, body(route, **{name: v})) for what, v in addresses
    ]


def datetime_cases(route: str, name: str) -> list[Case]:
    where = f"body.{name}"
    values: list[tuple[str, Any]] = [
        ("not a date", "yesterday"),
        ("without offset", "2026-03-22T09:00:00"),
        ("date only", "2026-03-22"),
        ("month 13", "2026-13-01T00:00:00Z"),
        ("a list", ["2026-03-22T09:00:00Z"]),
        ("a bool", True),
    ]
    return [invalid(route, f"{name} {what}", where, body(route, **{name: v})) for what, v in values]


def uuid_cases(route: str, name: str) -> list[Case]:
    where = f"body.{name}"
    values: list[tuple[str, Any]] = [
        ("not a uuid", "not-a-uuid"),
        ("a number", 42),
        ("an object", {"id": UNKNOWN_ID}),
        ("uuid with junk", UNKNOWN_ID + "0"),
    ]
    return [invalid(route, f"{name} {what}", where, body(route, **{name: v})) for what, v in values]


def extra_field(route: str, name: str = "surprise") -> Case:
    return invalid(route, f"unknown field {name}", f"body.{name}", body(route, **{name: "x"}))


# --- the table -------------------------------------------------------------------------------

ADD_BOOK_CASES = [
    *body_shape_cases(ADD_BOOK),
    *text_cases(ADD_BOOK, "title", 300),
    *text_cases(ADD_BOOK, "author", 200),
    invalid(ADD_BOOK, "empty object", "body.title", {}),
    invalid(ADD_BOOK, "isbn is a number", "body.isbn", body(ADD_BOOK, isbn=9780441172719)),
    invalid(ADD_BOOK, "isbn-13 bad checksum", "body.isbn", body(ADD_BOOK, isbn="9780441172710")),
    invalid(ADD_BOOK, "isbn-10 bad checksum", "body.isbn", body(ADD_BOOK, isbn="0-441-17271-8")),
    invalid(ADD_BOOK, "isbn 12 digits", "body.isbn", body(ADD_BOOK, isbn="978044117271")),
    invalid(ADD_BOOK, "isbn 5 digits", "body.isbn", body(ADD_BOOK, isbn="12345")),
    invalid(ADD_BOOK, "isbn with letters", "body.isbn", body(ADD_BOOK, isbn="ISBN-DUNE-1")),
    invalid(ADD_BOOK, "isbn X not last", "body.isbn", body(ADD_BOOK, isbn="04X1172717")),
    invalid(ADD_BOOK, "isbn over 20", "body.isbn", body(ADD_BOOK, isbn="9" * 21)),
    invalid(ADD_BOOK, "isbn empty", "body.isbn", body(ADD_BOOK, isbn="")),
    invalid(ADD_BOOK, "isbn blank", "body.isbn", body(ADD_BOOK, isbn="   ")),
    invalid(
        ADD_BOOK,
        "published_year text",
        "body.published_year",
        body(ADD_BOOK, published_year="MCMLXV"),
    ),
    invalid(
        ADD_BOOK,
        "published_year fraction",
        "body.published_year",
        body(ADD_BOOK, published_year=1965.5),
    ),
    invalid(
        ADD_BOOK, "published_year zero", "body.published_year", body(ADD_BOOK, published_year=0)
    ),
    invalid(
        ADD_BOOK,
        "published_year negative",
        "body.published_year",
        body(ADD_BOOK, published_year=-5),
    ),
    invalid(
        ADD_BOOK,
        "published_year far future",
        "body.published_year",
        body(ADD_BOOK, published_year=2100),
    ),
    invalid(
        ADD_BOOK,
        "published_year huge",
        "body.published_year",
        body(ADD_BOOK, published_year=10**30),
    ),
    invalid(ADD_BOOK, "copies text", "body.copies", body(ADD_BOOK, copies="two")),
    invalid(ADD_BOOK, "copies negative", "body.copies", body(ADD_BOOK, copies=-1)),
    invalid(ADD_BOOK, "copies over 100", "body.copies", body(ADD_BOOK, copies=101)),
    invalid(ADD_BOOK, "copies a list", "body.copies", body(ADD_BOOK, copies=[1])),
    invalid(
        ADD_BOOK, "circulation unknown", "body.circulation", body(ADD_BOOK, circulation="lendable")
    ),
    invalid(ADD_BOOK, "circulation a number", "body.circulation", body(ADD_BOOK, circulation=1)),
    extra_field(ADD_BOOK, "subtitle"),
    Case(
        ADD_BOOK,
        "integer with 5000 digits",
        422,
        field="body",
        content=b'{"title": "T", "author": "A", "published_year": ' + b"9" * 5000 + b"}",
    ),
    refused(ADD_BOOK, "isbn taken", "ISBN_TAKEN", body(ADD_BOOK, isbn=Ref("isbn_on_loan"))),
    refused(
        ADD_BOOK, "isbn taken in isbn-10 form", "ISBN_TAKEN", body(ADD_BOOK, isbn="0441172717")
    ),
]

ADD_COPY_CASES = [
    *path_cases(ADD_COPY),
    *body_shape_cases(ADD_COPY, body_required=False),
    invalid(ADD_COPY, "barcode a number", "body.barcode", body(ADD_COPY, barcode=1234)),
    invalid(ADD_COPY, "barcode over 32", "body.barcode", body(ADD_COPY, barcode="B" * 33)),
    invalid(ADD_COPY, "barcode under 4", "body.barcode", body(ADD_COPY, barcode="B12")),
    invalid(ADD_COPY, "barcode empty", "body.barcode", body(ADD_COPY, barcode="")),
    invalid(ADD_COPY, "barcode blank", "body.barcode", body(ADD_COPY, barcode="     ")),
    invalid(ADD_COPY, "barcode with a space", "body.barcode", body(ADD_COPY, barcode="B 1234")),
    invalid(ADD_COPY, "barcode with a slash", "body.barcode", body(ADD_COPY, barcode="B/1234")),
    invalid(ADD_COPY, "barcode with a NUL", "body.barcode", body(ADD_COPY, barcode="B12\x0034")),
    invalid(
        ADD_COPY, "circulation unknown", "body.circulation", body(ADD_COPY, circulation="loanable")
    ),
    invalid(ADD_COPY, "circulation null", "body.circulation", body(ADD_COPY, circulation=None)),
    *money_cases(ADD_COPY, "replacement_cost"),
    extra_field(ADD_COPY, "shelf"),
    refused(
        ADD_COPY, "barcode taken", "BARCODE_TAKEN", body(ADD_COPY, barcode=Ref("barcode_on_loan"))
    ),
]

BORROW_CASES = [
    *path_cases(BORROW),
    *body_shape_cases(BORROW),
    *uuid_cases(BORROW, "patron_id"),
    *email_cases(BORROW, "borrower_email"),
    invalid(BORROW, "no borrower", "body", {}, mentions="patron_id"),
    invalid(BORROW, "patron_id null", "body", body(BORROW, patron_id=None), mentions="patron_id"),
    invalid(
        BORROW, "only a barcode", "body", {"barcode": Ref("barcode_on_loan")}, mentions="patron_id"
    ),
    invalid(BORROW, "barcode a number", "body.barcode", body(BORROW, barcode=1234)),
    invalid(BORROW, "barcode over 32", "body.barcode", body(BORROW, barcode="B" * 33)),
    invalid(BORROW, "barcode empty", "body.barcode", body(BORROW, barcode="")),
    extra_field(BORROW, "due_at"),
    unknown(BORROW, "patron_id unknown", body(BORROW, patron_id=UNKNOWN_ID), "PATRON_NOT_FOUND"),
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
        body(BORROW, patron_id=Ref("debtor")),
        book_id=Ref("book_on_loan"),
    ),
    refused(
        BORROW, "patron suspended", "PATRON_SUSPENDED", body(BORROW, patron_id=Ref("suspended"))
    ),
]

RETURN_BOOK_CASES = [
    *path_cases(RETURN_BOOK),
    *body_shape_cases(RETURN_BOOK, body_required=False),
    *email_cases(RETURN_BOOK, "borrower_email"),
    *datetime_cases(RETURN_BOOK, "returned_at"),
    invalid(
        RETURN_BOOK,
        "returned_at in the future",
        "body.returned_at",
        body(RETURN_BOOK, returned_at="2030-01-01T00:00:00Z"),
    ),
    invalid(
        RETURN_BOOK,
        "returned_at before the loan",
        "body.returned_at",
        body(RETURN_BOOK, returned_at="2026-03-01T00:00:00Z"),
    ),
    invalid(RETURN_BOOK, "barcode a number", "body.barcode", body(RETURN_BOOK, barcode=1234)),
    invalid(RETURN_BOOK, "barcode over 32", "body.barcode", body(RETURN_BOOK, barcode="B" * 33)),
    invalid(RETURN_BOOK, "barcode empty", "body.barcode", body(RETURN_BOOK, barcode="")),
    extra_field(RETURN_BOOK, "patron_id"),
    unknown(RETURN_BOOK, "barcode not on loan", body(RETURN_BOOK, barcode="NOPE-0000")),
    unknown(
        RETURN_BOOK,
        "borrower_email unknown",
        body(RETURN_BOOK, borrower_email="nobody@example.org"),
    ),
]

REGISTER_CASES = [
    *body_shape_cases(REGISTER),
    *text_cases(REGISTER, "first_name", 100),
    *text_cases(REGISTER, "last_name", 100),
    *email_cases(REGISTER, "email"),
    invalid(REGISTER, "empty object", "body.first_name", {}),
    invalid(REGISTER, "email missing", "body.email", body(REGISTER, email=DROP)),
    invalid(REGISTER, "email null", "body.email", body(REGISTER, email=None)),
    invalid(REGISTER, "email blank", "body.email", body(REGISTER, email="     ")),
    invalid(REGISTER, "category unknown", "body.category", body(REGISTER, category="gold")),
    invalid(REGISTER, "category a number", "body.category", body(REGISTER, category=2)),
    invalid(
        REGISTER,
        "membership_tier unknown",
        "body.membership_tier",
        body(REGISTER, membership_tier="gold"),
    ),
    extra_field(REGISTER, "nickname"),
    refused(REGISTER, "email taken", "EMAIL_TAKEN", body(REGISTER, email="ada@example.org")),
    refused(
        REGISTER,
        "email taken in other case",
        "EMAIL_TAKEN",
        body(REGISTER, email=" ADA@Example.org "),
    ),
]

SUSPEND_CASES = [
    *path_cases(SUSPEND),
    *body_shape_cases(SUSPEND),
    *text_cases(SUSPEND, "reason", 500),
    invalid(SUSPEND, "empty object", "body.reason", {}),
    extra_field(SUSPEND, "until"),
    refused(
        SUSPEND,
        "already suspended",
        "PATRON_ALREADY_SUSPENDED",
        body(SUSPEND),
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
    invalid(UPGRADE, "empty object", "body.category", {}),
    invalid(UPGRADE, "category null", "body.category", body(UPGRADE, category=None)),
    invalid(UPGRADE, "category unknown", "body.category", body(UPGRADE, category="gold")),
    invalid(UPGRADE, "category a number", "body.category", body(UPGRADE, category=2)),
    invalid(UPGRADE, "category a list", "body.category", body(UPGRADE, category=["premium"])),
    invalid(
        UPGRADE, "membership_tier unknown", "body.membership_tier", {"membership_tier": "gold"}
    ),
    extra_field(UPGRADE, "reason"),
    refused(UPGRADE, "not an upgrade", "NOT_AN_UPGRADE", body(UPGRADE, category="regular")),
]

RENEW_MEMBERSHIP_CASES = path_cases(RENEW_MEMBERSHIP)

PAY_CASES = [
    *path_cases(PAY),
    *body_shape_cases(PAY),
    *money_cases(PAY, "amount"),
    invalid(PAY, "amount missing", "body.amount", {}),
    invalid(PAY, "amount null", "body.amount", body(PAY, amount=None)),
    extra_field(PAY, "currency"),
    refused(PAY, "more than the balance", "PAYMENT_EXCEEDS_BALANCE", body(PAY, amount="999.00")),
    refused(PAY, "nothing owed", "PAYMENT_EXCEEDS_BALANCE", body(PAY), patron_id=Ref("patron")),
]

OPEN_LOAN_CASES = [
    *body_shape_cases(OPEN_LOAN),
    *uuid_cases(OPEN_LOAN, "patron_id"),
    *uuid_cases(OPEN_LOAN, "book_id"),
    *datetime_cases(OPEN_LOAN, "due_at"),
    invalid(OPEN_LOAN, "empty object", "body.patron_id", {}),
    invalid(OPEN_LOAN, "patron_id missing", "body.patron_id", body(OPEN_LOAN, patron_id=DROP)),
    invalid(OPEN_LOAN, "patron_id null", "body.patron_id", body(OPEN_LOAN, patron_id=None)),
    invalid(
        OPEN_LOAN,
        "no book_id or barcode",
        "body",
        body(OPEN_LOAN, book_id=DROP),
        mentions="book_id",
    ),
    invalid(
        OPEN_LOAN,
        "due_at in the past",
        "body.due_at",
        body(OPEN_LOAN, due_at="2026-03-01T00:00:00Z"),
    ),
    invalid(
        OPEN_LOAN, "barcode a number", "body.barcode", body(OPEN_LOAN, book_id=DROP, barcode=1234)
    ),
    invalid(
        OPEN_LOAN,
        "barcode over 32",
        "body.barcode",
        body(OPEN_LOAN, book_id=DROP, barcode="B" * 33),
    ),
    invalid(OPEN_LOAN, "barcode empty", "body.barcode", body(OPEN_LOAN, book_id=DROP, barcode="")),
    invalid(
        OPEN_LOAN,
        "barcode with a NUL",
        "body.barcode",
        body(OPEN_LOAN, book_id=DROP, barcode="B12\x0034"),
    ),
    extra_field(OPEN_LOAN, "borrower_email"),
    unknown(
        OPEN_LOAN, "patron_id unknown", body(OPEN_LOAN, patron_id=UNKNOWN_ID), "PATRON_NOT_FOUND"
    ),
    unknown(OPEN_LOAN, "book_id unknown", body(OPEN_LOAN, book_id=UNKNOWN_ID), "BOOK_NOT_FOUND"),
    unknown(
        OPEN_LOAN,
        "barcode unknown",
        body(OPEN_LOAN, book_id=DROP, barcode="NOPE-0000"),
        "COPY_NOT_FOUND",
    ),
    refused(
        OPEN_LOAN,
        "copy on loan",
        "NO_COPY_AVAILABLE",
        body(OPEN_LOAN, patron_id=Ref("debtor"), book_id=Ref("book_on_loan")),
    ),
    refused(
        OPEN_LOAN,
        "patron suspended",
        "PATRON_SUSPENDED",
        body(OPEN_LOAN, patron_id=Ref("suspended")),
    ),
]

RENEW_CASES = [
    *path_cases(RENEW),
    refused(RENEW, "loan returned", "LOAN_ALREADY_RETURNED", loan_id=Ref("returned_loan")),
]

RETURN_LOAN_CASES = [
    *path_cases(RETURN_LOAN),
    *body_shape_cases(RETURN_LOAN, body_required=False),
    *datetime_cases(RETURN_LOAN, "returned_at"),
    invalid(
        RETURN_LOAN,
        "returned_at in the future",
        "body.returned_at",
        body(RETURN_LOAN, returned_at="2030-01-01T00:00:00Z"),
    ),
    invalid(
        RETURN_LOAN,
        "returned_at before the loan",
        "body.returned_at",
        body(RETURN_LOAN, returned_at="2026-03-01T00:00:00Z"),
    ),
    extra_field(RETURN_LOAN, "fine"),
]

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
]


# --- checks ----------------------------------------------------------------------------------


def request_of(case: Case, world: Mapping[str, str]) -> tuple[str, bytes | None, dict[str, str]]:
    params = {
        k: str(resolve(v, world)) for k, v in (TARGET.get(case.route, {}) | dict(case.path)).items()
    }
    url = case.route.format(**params)
    if case.content is not None:
        return url, case.content, {"content-type": case.content_type}
    if case.json is NO_BODY:
        return url, None, {}
    payload = json.dumps(resolve(case.json, world)).encode()
    return url, payload, {"content-type": "application/json"}


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


# --- tests -----------------------------------------------------------------------------------


def post_routes() -> set[str]:
    return {
        route.path
        for route in create_app().routes
        if isinstance(route, APIRoute) and "POST" in route.methods
    }


def test_the_table_covers_every_post_route() -> None:
    assert {case.route for case in CASES} == post_routes()


def test_every_route_with_an_id_has_path_cases() -> None:
    for route in post_routes():
        if "{" not in route:
            continue
        statuses = {c.status for c in CASES if c.route == route and c.path}
        assert {404, 422} <= statuses, route


def test_every_route_with_a_body_has_body_cases() -> None:
    with_body = {route for route, valid in VALID.items() if valid is not NO_BODY}
    for route in with_body:
        names = {c.name for c in CASES if c.route == route}
        assert {"malformed json", "plain text body", "json array instead of object"} <= names
        assert any(c.name.startswith("unknown field") for c in CASES if c.route == route)


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.fixture
async def world(api: httpx.AsyncClient, desk: Desk, clock: MutableClock) -> dict[str, str]:
    return await seed(api, desk, clock)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_bad_input_is_a_problem_and_changes_nothing(
    api: httpx.AsyncClient, engines: Engines, world: dict[str, str], case: Case
) -> None:
    url, content, headers = request_of(case, world)
    before_api, before_db = await api_state(api), await db_rows(engines)

    response = await api.post(url, content=content, headers=headers)

    problem = assert_problem(response, case)
    if case.status == 422:
        assert_names_the_field(problem, case)
    elif case.status == 409:
        assert_names_the_rule(problem, case)
    elif case.code is not None:
        assert problem["code"] == case.code
    else:
        assert problem["code"].endswith("NOT_FOUND")
    assert await api_state(api) == before_api
    assert await db_rows(engines) == before_db

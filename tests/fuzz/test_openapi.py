"""The whole HTTP API fuzzed from its own OpenAPI schema with schemathesis.

Every operation the schema documents gets boundary-value requests (schemathesis' coverage phase)
and random schema-valid and schema-invalid ones (its fuzzing phase), sent as an admin, so that
every route is reachable, to the real app in process over a seeded SQLite library. Then
schemathesis chains calls along the links it infers between operations (the id a `POST /books`
answers fed to `GET /books/{book_id}`, ...). Whatever comes back must not be a 5xx and must match
the schema: a documented status code and content type, and a body that fits the documented schema.

Generation is derandomized and keeps no example database, so every run sends the same requests
per operation (only the ids the app gives the seeded rows differ). The chained scenarios also
depend on Python's hash seed: schemathesis infers its links through sets.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import settings
from hypothesis import strategies as st
from schemathesis import Case, HookContext, Response
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.config import Settings
from shelfmark.entrypoints.http.app import create_app
from tests.support.auth import admin
from tests.support.clock import MONDAY, MutableClock
from tests.support.databases import sqlite_copy

MINIMUM_REQUESTS = 2_000
UNLIMITED = "1000000/minute"

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": 45, "deterministic": True, "database": "none"},
        "suppress-health-check": ["all"],
        "operations": [
            # Each login with a well-formed form runs a real Argon2 verification (~0.13 s).
            {"include-name": "POST /auth/token", "generation": {"max-examples": 10}}
        ],
    }
)
#: Read from an app that is never started: building one touches no database.
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi(), config=CONFIG)
OPERATIONS = [result.ok().label for result in schema.get_all_operations()]


def problem_body_conformance(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """An `application/problem+json` answer fits the documented `Problem` schema.

    The schema gives `Problem` for every error status under `application/json`, which is never
    sent, and lists `application/problem+json`, which is, without a schema; so
    `response_schema_conformance` has nothing to hold a problem body to. This holds it to `Problem`.
    """
    if not response.headers.get("content-type", [""])[0].startswith("application/problem+json"):
        return None
    problem = case.operation.schema.raw_schema["components"]["schemas"]["Problem"]
    body = json.loads(response.content)
    errors = [error.message for error in jsonschema_rs.validator_for(problem).iter_errors(body)]
    assert not errors, f"the problem body does not fit the Problem schema: {errors}"
    assert body["status"] == response.status_code, "the problem's status is not the HTTP status"
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    problem_body_conformance,
]


@dataclass
class Library:
    app: Any
    shelfmark: Shelfmark
    auth: dict[str, str]

    @property
    def database(self) -> Path:
        return Path(str(self.shelfmark.engines.write.url.database))

    def close(self) -> None:
        # The pool's connections were opened on schemathesis' event loop; closing a SQLite
        # connection awaits nothing (inline_sqlite.py), so a fresh loop can close them.
        asyncio.run(self.shelfmark.dispose())


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    operations: set[str] = field(default_factory=set)

    def record(self, kind: str, case: Case, response: Response) -> None:
        self.requests[kind] += 1
        self.statuses[response.status_code] += 1
        if kind == "per operation":
            self.operations.add(case.operation.label)


#: Ids (and the like) of the seeded rows, by the name a request gives them; filled by `libraries`.
SEEDED: dict[str, list[str]] = {}
#: The seeding moves the clock 40 days on, so that some loans are overdue; it stays there.
SEEDED_AT = MONDAY + timedelta(days=40)


@dataclass
class Libraries:
    """Opens apps, each over its own copy of one SQLite database."""

    database: Path
    directory: Path

    def open(self, clock: MutableClock | None = None) -> Library:
        settings_ = Settings(
            var_dir=self.directory,  # where the token signing key is kept: one for all apps
            scheduler_enabled=False,
            embedded_workers=False,
            request_limit_per_client=UNLIMITED,
            login_limit_per_client=UNLIMITED,
            login_limit_per_account=UNLIMITED,
        )
        clock = clock or MutableClock(SEEDED_AT)
        engines = sqlite_copy(self.database, self.directory)
        shelfmark = bootstrap(settings_, clock=clock, engines=engines)
        return Library(create_app(shelfmark=shelfmark), shelfmark, admin(shelfmark))


@pytest.fixture(scope="module")
def libraries(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Libraries]:
    """Apps over a migrated SQLite database with a few books, patrons, loans and holds in it."""
    directory = tmp_path_factory.mktemp("fuzz")
    clock = MutableClock()
    seeding = Libraries(sqlite_template, directory).open(clock)
    # schemathesis sends every in-process request on one event loop of its own; the seeding
    # goes through its client too.
    with asgi.get_client(seeding.app) as client:
        SEEDED.update(_seed(client, seeding.shelfmark, clock))
    assert clock.now() == SEEDED_AT
    seeding.close()
    yield Libraries(seeding.database, directory)
    SEEDED.clear()
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def library(libraries: Libraries) -> Iterator[Library]:
    """One app for every operation in turn: what one operation changes, the next one sees."""
    library = libraries.open()
    yield library
    library.close()


def _seed(client: Any, shelfmark: Shelfmark, clock: MutableClock) -> dict[str, list[str]]:
    def post(path: str, body: dict[str, Any] | None = None, expect: int = 201) -> dict[str, Any]:
        response = client.post(path, json=body or {}, headers=admin(shelfmark))
        assert response.status_code == expect, (path, response.text)
        return dict(response.json())

    def patron(first: str, last: str, **fields: Any) -> dict[str, Any]:
        email = f"{first.lower()}@example.org"
        return post("/patrons", {"first_name": first, "last_name": last, "email": email} | fields)

    dune = post("/books", {"title": "Dune", "author": "Frank Herbert", "isbn": "9780441013593"})
    emile = post("/books", {"title": "Émile", "author": "Rousseau", "copies": 3})
    atlas = post("/books", {"title": "Atlas", "author": "Mercator", "circulation": "reference"})
    rare = post("/books", {"title": "Rare", "author": "Anon", "copies": 0})
    ulysses = post("/books", {"title": "Ulysses", "author": "James Joyce", "published_year": 1922})
    ada = patron("Ada", "Lovelace")
    alan = patron("Alan", "Turing", category="premium")
    grace = patron("Grace", "Hopper")
    post(f"/books/{dune['id']}/copies", {"barcode": "DUNE-0002"})
    loans = [
        post(f"/books/{dune['id']}/borrow", {"patron_id": ada["id"]}),
        post("/loans", {"patron_id": alan["id"], "book_id": emile["id"]}),
        post(f"/books/{ulysses['id']}/borrow", {"borrower_email": grace["email"]}),
    ]
    hold = post(f"/books/{ulysses['id']}/holds", {"patron_id": ada["id"]})
    clock.advance(days=40)  # every loan is overdue now: the return below charges a fine
    post(f"/loans/{loans[1]['id']}/return", expect=200)
    post(f"/patrons/{alan['id']}/payments", {"amount": "0.50"})
    post(f"/patrons/{grace['id']}/suspend", {"reason": "lost a book"}, expect=200)
    books = [dune, emile, atlas, rare, ulysses]
    patrons = [ada, alan, grace]
    return {
        "book_id": [book["id"] for book in books],
        "patron_id": [patron["id"] for patron in patrons],
        "loan_id": [loan["id"] for loan in loans],
        "hold_id": [hold["id"]],
        "borrower_email": [patron["email"] for patron in patrons],
        "barcode": [loan["barcode"] for loan in loans],
    }


def _or_seeded_rows(values: Any) -> st.SearchStrategy[Any]:
    """The generated values half the time; otherwise the same with one of them naming a seeded
    row, so that generated requests also reach real books, patrons, loans and holds."""
    if not isinstance(values, dict):
        return st.just(values)
    variants = [values | {name: seeded} for name in values for seeded in SEEDED.get(name, [])]
    return st.one_of(st.just(values), st.sampled_from(variants)) if variants else st.just(values)


@schema.hook
def flatmap_path_parameters(context: HookContext, path_parameters: Any) -> st.SearchStrategy[Any]:
    return _or_seeded_rows(path_parameters)


@schema.hook
def flatmap_query(context: HookContext, query: Any) -> st.SearchStrategy[Any]:
    return _or_seeded_rows(query)


@schema.hook
def flatmap_body(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
    return _or_seeded_rows(body)


@pytest.fixture(scope="module")
def tally() -> Tally:
    return Tally()


@schema.parametrize()
def test_each_operation_answers_as_documented(case: Case, library: Library, tally: Tally) -> None:
    response = case.call(app=library.app, headers=library.auth)
    tally.record("per operation", case, response)
    case.validate_response(response, checks=CHECKS, headers=library.auth)


def test_chained_operations_answer_as_documented(libraries: Libraries, tally: Tally) -> None:
    class Workflows(schema.as_state_machine()):  # type: ignore[misc]
        """Each scenario starts from the seeded library afresh, so that the same choices meet
        the same answers (Hypothesis insists on that)."""

        def setup(self) -> None:
            self.library = libraries.open()

        def teardown(self) -> None:
            self.library.close()

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"app": self.library.app, "headers": self.library.auth}

        def after_call(self, response: Response, case: Case) -> None:
            super().after_call(response, case)
            tally.record("stateful", case, response)

        def validate_response(
            self, response: Response, case: Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(
                response, checks=CHECKS, headers=self.library.auth, transport_kwargs=kwargs
            )

    Workflows.run(
        settings=settings(
            max_examples=40, stateful_step_count=10, derandomize=True, database=None, deadline=None
        )
    )


def test_the_fuzzing_sent_enough_requests(tally: Tally) -> None:
    """Runs last (pytest keeps the order of the file) and counts what the tests above sent."""
    if tally.operations != set(OPERATIONS):
        pytest.skip("counts only when every operation was fuzzed in this run")
    summary = (
        f"{sum(tally.requests.values())} requests ({dict(tally.requests)}) over "
        f"{len(OPERATIONS)} operations; status codes: {dict(sorted(tally.statuses.items()))}"
    )
    print(summary)
    # The per-operation part alone, whose count does not depend on the hash seed.
    assert tally.requests["per operation"] >= MINIMUM_REQUESTS, summary

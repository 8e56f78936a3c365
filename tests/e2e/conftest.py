"""HTTP end to end: the real app over ASGI, on SQLite and on PostgreSQL, with a movable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.config import Settings
from shelfmark.entrypoints.http.app import create_app
from shelfmark.seedwork.infrastructure.database import Engines, create_engines
from tests.support.auth import Signer, as_librarian
from tests.support.clock import MutableClock
from tests.support.deployment import E2E_URL, clean_slate, database_url, signing
from tests.support.events import settle, settle_deployment


@pytest.fixture
def shelfmark(engines: Engines, clock: MutableClock, tmp_path: Path) -> Shelfmark:
    return bootstrap(Settings(var_dir=tmp_path), clock=clock, engines=engines)


@pytest.fixture
async def anonymous(shelfmark: Shelfmark) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credentials."""
    transport = httpx.ASGITransport(app=create_app(shelfmark=shelfmark), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://shelfmark.test") as client:
        yield client


@pytest.fixture
async def api(shelfmark: Shelfmark) -> AsyncIterator[httpx.AsyncClient]:
    """A client logged in as a librarian at the desk."""
    transport = httpx.ASGITransport(app=create_app(shelfmark=shelfmark), raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://shelfmark.test", auth=as_librarian(shelfmark)
    ) as client:
        yield client


class Desk:
    """The few calls most tests start from."""

    def __init__(self, api: httpx.AsyncClient) -> None:
        self.api = api

    async def book(self, **fields: Any) -> dict[str, Any]:
        response = await self.api.post(
            "/books", json={"title": "Dune", "author": "Frank Herbert"} | fields
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def patron(self, email: str = "ada@example.org", **fields: Any) -> dict[str, Any]:
        body = {"first_name": "Ada", "last_name": "Lovelace", "email": email} | fields
        response = await self.api.post("/patrons", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture
def desk(api: httpx.AsyncClient) -> Desk:
    return Desk(api)


@pytest.fixture
def signer(shelfmark: Shelfmark) -> Signer:
    """What mints tokens for the callers a test plays (the deployment's key over HTTP)."""
    return shelfmark


#: Lets every event reach its consumers, so the read side has seen every write.
Settle = Callable[[], Awaitable[None]]


@pytest.fixture
def database(shelfmark: Shelfmark) -> AsyncEngine:
    """The system's database, to look at what a test's requests stored (the deployment's)."""
    return shelfmark.engines.write


@pytest.fixture
def settled(shelfmark: Shelfmark) -> Settle:
    """In process: relays the outbox (the deployment's workers do it by themselves)."""
    return lambda: settle(shelfmark)


@pytest.fixture
def backend(database: AsyncEngine) -> str:
    """`sqlite` or `postgresql`."""
    return database.dialect.name


# Against a running server: SHELFMARK_E2E_URL (the cluster behind nginx, say; `make
# test-cluster`). `api` and `anonymous` then speak HTTP to it, with tokens signed by the
# deployment's SHELFMARK_JWT_SECRET, and only the tests that need nothing of the in-process
# app (its clock, its engines, the Shelfmark object) and go through `api`, `anonymous`, `desk`
# or the bad-input table's `library` are collected; the others are deselected.
# Before each test, SHELFMARK_E2E_DATABASE_URL (the deployment's database, straight, not through
# PgBouncer) is emptied and SHELFMARK_E2E_REDIS_URL (a Redis database of its own) flushed, as
# the in-process tests get a fresh database each; the bad-input table empties them once and
# seeds its library for all its cases.
OVER_HTTP = frozenset({"api", "anonymous", "desk", "signer", "library"})
#: Over HTTP, but their expectations hold only in process: skipped against a server.
IN_PROCESS_EXPECTATIONS = {
    "test_renewal_and_the_third_renewal_refused": "expects due dates from the test clock",
    "test_patron_lifecycle": "expects a card expiry from the test clock",
    "test_metrics_count_requests_by_route_template": "counts one process's requests",
    "test_a_common_word_lists_its_books_most_copies_first_page_by_page": (
        "lowers the search's common-word threshold in process"
    ),
}
IN_PROCESS_ONLY = frozenset(
    {"shelfmark", "clock", "engines", "sqlite_engines", "postgres_engines", "postgres_url"}
)

if E2E_URL:

    def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
        here = Path(__file__).parent

        def in_process(item: pytest.Item) -> bool:
            used = set(getattr(item, "fixturenames", ()))
            return not used & OVER_HTTP or bool(used & IN_PROCESS_ONLY)

        deselected = [item for item in items if here in item.path.parents and in_process(item)]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [item for item in items if item not in deselected]
        for item in items:
            reason = IN_PROCESS_EXPECTATIONS.get(getattr(item, "originalname", item.name))
            if reason:
                item.add_marker(pytest.mark.skip(reason=f"against a server: {reason}"))

    @pytest.fixture
    def signer() -> Signer:  # replaces the in-process one
        return signing()

    @pytest.fixture
    async def database() -> AsyncIterator[AsyncEngine]:  # replaces the in-process one
        engines = create_engines(database_url())
        try:
            yield engines.write
        finally:
            await engines.dispose()

    @pytest.fixture
    def settled(database: AsyncEngine) -> Settle:  # replaces the in-process one
        return lambda: settle_deployment(database)

    @pytest.fixture(autouse=True)
    async def external_clean_slate(request: pytest.FixtureRequest) -> None:
        """Before each test; a test on a library seeded once per module (`library`) keeps it."""
        if "library" not in request.fixturenames:
            await clean_slate()

    @pytest.fixture
    async def anonymous() -> AsyncIterator[httpx.AsyncClient]:  # replaces the in-process one
        async with httpx.AsyncClient(base_url=E2E_URL, timeout=30) as client:
            yield client

    @pytest.fixture
    async def api() -> AsyncIterator[httpx.AsyncClient]:  # replaces the in-process one
        librarian = as_librarian(signing())
        async with httpx.AsyncClient(base_url=E2E_URL, auth=librarian, timeout=30) as client:
            yield client

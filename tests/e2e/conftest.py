"""HTTP end to end: the real app over ASGI, on SQLite and on PostgreSQL, with a movable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.config import Settings
from shelfmark.entrypoints.http.app import create_app
from shelfmark.seedwork.infrastructure.database import Engines
from tests.support.auth import as_librarian
from tests.support.clock import MutableClock


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

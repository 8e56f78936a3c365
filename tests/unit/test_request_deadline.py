"""The request deadline: past its budget, or when a dependency it needs is unavailable, a
request is answered 503 problem+json with Retry-After; any other error stays a 500."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from shelfmark.entrypoints.http.errors import DeadlineMiddleware

BUDGET = 0.2


class Slow:
    """An endpoint that never answers in time, and notes when it was cancelled."""

    def __init__(self) -> None:
        self.cancelled = asyncio.Event()

    async def __call__(self) -> dict[str, str]:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return {}


def raising(error: Exception) -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def fail() -> None:
        raise error

    app.add_middleware(DeadlineMiddleware, budget=lambda: BUDGET)
    return app


async def get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        asyncio.timeout(5),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        return await client.get("/")


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"].isdigit()
    assert response.json()["code"] == "UNAVAILABLE"


async def test_a_request_past_its_budget_is_answered_503_and_its_work_cancelled() -> None:
    slow = Slow()
    app = FastAPI()
    app.get("/")(slow)
    app.add_middleware(DeadlineMiddleware, budget=lambda: BUDGET)

    assert_unavailable(await get(app))
    async with asyncio.timeout(5):
        await slow.cancelled.wait()


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),
        PoolTimeout("QueuePool limit reached"),
        OperationalError("SELECT 1", {}, Exception("database is locked")),
        InterfaceError("SELECT 1", {}, Exception("closed"), connection_invalidated=True),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_an_unavailable_dependency_is_answered_503(error: Exception) -> None:
    assert_unavailable(await get(raising(error)))


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        InterfaceError("SELECT 1", {}, Exception("misuse")),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_any_other_error_stays_a_500(error: Exception) -> None:
    assert (await get(raising(error))).status_code == 500

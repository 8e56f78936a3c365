"""Redis cut mid-test through a TCP proxy (never the machine's Redis itself): every read keeps
answering 200 from the database, readiness says degraded with `cache.redis` degraded, and once
Redis is back and the breaker's open time has passed, reads hit the cache again, never stale."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shelfmark.bootstrap import Shelfmark, bootstrap
from shelfmark.config import Settings
from shelfmark.seedwork.infrastructure.database import Engines
from tests.e2e.conftest import Desk
from tests.support.clock import MutableClock
from tests.support.redis_cache import REDIS_HOST, REDIS_PORT, private_prefix
from tests.support.tcp_proxy import TcpProxy

OPEN_SECONDS = 0.5
RECOVERY_BOUND_SECONDS = 10.0
BOOK = "/books/{book_id}"


@pytest.fixture
async def redis_link() -> AsyncIterator[TcpProxy]:
    async with TcpProxy(REDIS_HOST, REDIS_PORT) as proxy:
        yield proxy


@pytest.fixture
async def shelfmark(
    redis_link: TcpProxy, engines: Engines, clock: MutableClock, tmp_path: Path
) -> AsyncIterator[Shelfmark]:
    async with private_prefix() as prefix:
        settings = Settings(
            var_dir=tmp_path,
            cache_url=f"redis://127.0.0.1:{redis_link.port}/0",
            cache_prefix=prefix,
            breaker_open_seconds=OPEN_SECONDS,
        )
        app = bootstrap(settings, clock=clock, engines=engines)
        yield app
        await app.cache.aclose()


def hits(app: Shelfmark) -> float:
    value = app.metrics.registry.get_sample_value("shelfmark_cache_hits_total", {"route": BOOK})
    return value or 0.0


async def copy_statuses(api: httpx.AsyncClient, url: str) -> list[str]:
    response = await api.get(url)
    assert response.status_code == 200, response.text
    return [c["status"] for c in response.json()["copies"]]


async def readiness(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_reads_outlive_a_redis_outage_and_hit_again_once_it_is_back(
    shelfmark: Shelfmark,
    redis_link: TcpProxy,
    api: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    desk: Desk,
) -> None:
    book, patron = await desk.book(), await desk.patron()
    url = f"/books/{book['id']}"
    assert await copy_statuses(api, url) == await copy_statuses(api, url) == ["available"]
    assert hits(shelfmark) == 1
    assert (await readiness(anonymous))["checks"]["cache.redis"] == "ok"

    await redis_link.cut()
    for _ in range(10):
        assert await copy_statuses(api, url) == ["available"]
    ready = await readiness(anonymous)
    assert (ready["status"], ready["checks"]["cache.redis"]) == ("degraded", "degraded")
    assert ready["checks"]["database"] == "ok"
    borrowed = await api.post(f"{url}/borrow", json={"patron_id": patron["id"]})
    assert borrowed.status_code == 201, borrowed.text
    assert await copy_statuses(api, url) == ["on_loan"]
    assert hits(shelfmark) == 1, "nothing was served from the cache while it was away"

    await redis_link.restore()
    await asyncio.sleep(OPEN_SECONDS)

    async def hits_again() -> None:
        while hits(shelfmark) == 1:
            assert await copy_statuses(api, url) == ["on_loan"], "never the entry from before"
            await asyncio.sleep(0.05)

    await asyncio.wait_for(hits_again(), RECOVERY_BOUND_SECONDS)
    assert await copy_statuses(api, url) == ["on_loan"]
    ready = await readiness(anonymous)
    assert (ready["status"], ready["checks"]["cache.redis"]) == ("ok", "ok")

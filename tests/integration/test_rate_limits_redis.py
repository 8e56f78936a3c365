"""In scaled mode the rate-limit counters live in the real Redis, shared by every API process."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid

from shelfmark.bootstrap.security import rate_limits
from shelfmark.config import Settings
from shelfmark.entrypoints.http.hardening import allowed
from tests.support.databases import service_missing
from tests.support.redis_cache import REDIS_HOST, REDIS_PORT
from tests.support.tcp_proxy import TcpProxy


async def test_two_processes_share_one_login_budget_through_redis() -> None:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError as error:
        service_missing("Redis at 127.0.0.1:6379", error)
    settings = Settings(
        rate_limit_storage="async+redis://127.0.0.1:6379", login_limit_per_account="3/minute"
    )
    first, second = rate_limits(settings), rate_limits(settings)  # as in two API processes
    account = f"test-{uuid.uuid4().hex}"

    for limits in (first, second, first):
        assert await limits.limiter.hit(limits.per_account_login, "login-account", account)

    assert not await second.limiter.hit(second.per_account_login, "login-account", account)
    assert not await first.limiter.test(first.per_account_login, "login-account", account)


async def test_a_redis_that_stops_answering_lets_a_request_through_within_the_timeout() -> None:
    """Blackholed (connections accepted, nothing answered), the counters' Redis costs a hit its
    timeout, not the request budget; the request is let through."""
    async with TcpProxy(REDIS_HOST, REDIS_PORT) as proxy:
        settings = Settings(
            rate_limit_storage=f"async+redis://127.0.0.1:{proxy.port}",
            rate_limit_timeout_seconds=0.2,
        )
        limits = rate_limits(settings)
        assert await allowed(limits, limits.per_client, "client", "127.0.0.1")
        proxy.set_blackhole(True)
        started = time.monotonic()
        hit = allowed(limits, limits.per_client, "client", "127.0.0.1")
        assert await asyncio.wait_for(hit, timeout=5)  # redis-py's default would wait for ever
        assert time.monotonic() - started < 2.0

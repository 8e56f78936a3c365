"""In scaled mode the rate-limit counters live in the real Redis, shared by every API process."""

from __future__ import annotations

import socket
import uuid

from shelfmark.bootstrap.security import rate_limits
from shelfmark.config import Settings
from tests.support.databases import service_missing


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

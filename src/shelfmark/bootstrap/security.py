"""The access context's adapters, wired: hashing, tokens, rate limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from limits import RateLimitItem, WindowStats, parse, storage
from limits.aio.strategies import MovingWindowRateLimiter

from shelfmark.access.infrastructure.hashing import Argon2PasswordHasher
from shelfmark.access.infrastructure.tokens import TokenService
from shelfmark.bootstrap.secrets import signing_key
from shelfmark.config import Settings
from shelfmark.seedwork.clock import Clock
from shelfmark.seedwork.infrastructure.moving_window import InProcessLimiter


class Limiter(Protocol):
    """What the API asks of a rate limiter (a moving window, in `limits`' terms)."""

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool: ...
    async def test(self, item: RateLimitItem, *identifiers: str) -> bool: ...
    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats: ...


IN_PROCESS = frozenset({"memory://", "async+memory://"})


@dataclass(frozen=True)
class RateLimits:
    limiter: Limiter
    per_account_login: RateLimitItem
    per_client_login: RateLimitItem
    per_client: RateLimitItem


def rate_limits(settings: Settings) -> RateLimits:
    return RateLimits(
        _limiter(settings),
        parse(settings.login_limit_per_account),
        parse(settings.login_limit_per_client),
        parse(settings.request_limit_per_client),
    )


def _limiter(settings: Settings) -> Limiter:
    if settings.rate_limit_storage in IN_PROCESS:
        return InProcessLimiter()
    options: dict[str, float | str] = {}
    if "redis" in settings.rate_limit_storage.split("://", 1)[0]:
        # redis-py, as for the read cache (not `limits`' default client). It waits for ever by
        # default: a Redis that stopped answering would hold every request for its whole budget.
        timeout = settings.rate_limit_timeout_seconds
        options = {
            "implementation": "redispy",
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
        }
    store = storage.storage_from_string(settings.rate_limit_storage, **options)
    return MovingWindowRateLimiter(store)


def token_service(settings: Settings, clock: Clock) -> TokenService:
    return TokenService(
        signing_key(settings),
        clock,
        access_ttl=timedelta(minutes=settings.access_token_minutes),
        refresh_ttl=timedelta(hours=settings.refresh_token_hours),
    )


def password_hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher()

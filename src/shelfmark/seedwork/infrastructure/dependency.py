"""Calling a dependency through a circuit breaker, one overall timeout and a few retries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from shelfmark.seedwork.infrastructure.breaker import CircuitBreaker

T = TypeVar("T")


async def call_dependency(
    breaker: CircuitBreaker,
    operation: Callable[[], Awaitable[T]],
    *,
    timeout: float,  # noqa: ASYNC109 - the bound on the whole call, applied with asyncio.timeout
    attempts: int = 3,
    retry_on: tuple[type[BaseException], ...] = (OSError, TimeoutError),
    backoff_seconds: float = 0.2,
    max_backoff_seconds: float = 2.0,
) -> T:
    """breaker( timeout( retries( operation ) ) ): retries with jittered exponential backoff
    (tenacity's AsyncRetrying + wait_random_exponential) sit inside one overall timeout, which
    sits inside the breaker, so the breaker records one call per dependency use and a call never
    takes longer than `timeout`.

    Only exceptions in `retry_on` are retried; after the last attempt the operation's own
    exception propagates. The wait before retry n is uniform in
    [0, min(max_backoff_seconds, backoff_seconds * 2 ** (n - 1))]. When the overall timeout
    expires the attempt in flight is cancelled (never retried) and `TimeoutError` is raised,
    which the breaker counts as a failure. An open breaker raises `CircuitOpen` at once.
    """
    _check_arguments(timeout, attempts, backoff_seconds, max_backoff_seconds)
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=backoff_seconds, max=max_backoff_seconds),
        retry=retry_if_exception_type(retry_on),
        reraise=True,
    )

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await _with_retries(retrying, operation)

    return await breaker.call(bounded)


async def _with_retries(retrying: AsyncRetrying, operation: Callable[[], Awaitable[T]]) -> T:
    async for attempt in retrying:
        with attempt:
            return await operation()
    raise AssertionError("unreachable: tenacity either returns a result or re-raises")


def _check_arguments(
    timeout: float, attempts: int, backoff_seconds: float, max_backoff_seconds: float
) -> None:
    if not timeout > 0:
        raise ValueError("timeout must be positive")
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    if not (backoff_seconds >= 0 and max_backoff_seconds >= 0):
        raise ValueError("backoff_seconds and max_backoff_seconds must not be negative")

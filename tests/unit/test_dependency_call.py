"""call_dependency: breaker( timeout( retries( operation ) ) ), with no real backoff waits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shelfmark.seedwork.infrastructure.breaker import BreakerConfig, CircuitBreaker, CircuitOpen
from shelfmark.seedwork.infrastructure.dependency import call_dependency

# Long enough never to fire in a test that is not about the timeout; short enough not to hang.
GENEROUS = 5.0
# A bound, not a measurement: the operation under it never finishes on its own.
TINY = 0.05


class Scripted:
    """An operation that raises the given errors in turn, then either answers or never does."""

    def __init__(self, *errors: BaseException, hang: bool = False) -> None:
        self.errors = list(errors)
        self.hang = hang
        self.attempts = 0

    async def __call__(self) -> str:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        if self.hang:
            await asyncio.Event().wait()
        return "answer"


def breaker() -> CircuitBreaker:
    return CircuitBreaker("dependency", BreakerConfig(minimum_calls=1, failure_rate_threshold=100))


async def call(b: CircuitBreaker, operation: Scripted, **options: Any) -> str:
    options = {"timeout": GENEROUS, "backoff_seconds": 0.0, **options}
    return await call_dependency(b, operation, **options)


async def test_transient_errors_are_retried_and_the_breaker_records_one_success() -> None:
    b = breaker()
    operation = Scripted(ConnectionResetError(), TimeoutError())
    assert await call(b, operation, attempts=3) == "answer"
    assert operation.attempts == 3
    snapshot = b.snapshot()
    assert (snapshot.calls, snapshot.failed_calls) == (1, 0)


async def test_a_non_retryable_error_is_not_retried() -> None:
    b = breaker()
    error = ValueError("bad request")
    operation = Scripted(error)
    with pytest.raises(ValueError, match="bad request") as raised:
        await call(b, operation, attempts=3)
    assert raised.value is error
    assert operation.attempts == 1
    assert b.snapshot().failed_calls == 1


async def test_retry_on_chooses_what_is_retried() -> None:
    operation = Scripted(KeyError("flaky"))
    assert await call(breaker(), operation, retry_on=(KeyError,)) == "answer"
    assert operation.attempts == 2


async def test_exhausted_attempts_reraise_the_last_error_and_record_one_failure() -> None:
    b = breaker()
    last = ConnectionRefusedError("third")
    operation = Scripted(ConnectionRefusedError("first"), ConnectionRefusedError("second"), last)
    with pytest.raises(ConnectionRefusedError) as raised:
        await call(b, operation, attempts=3)
    assert raised.value is last
    assert operation.attempts == 3
    snapshot = b.snapshot()
    assert (snapshot.calls, snapshot.failed_calls, snapshot.state) == (1, 1, "open")


async def test_the_timeout_bounds_a_hanging_attempt_and_counts_as_a_failure() -> None:
    b = breaker()
    operation = Scripted(hang=True)
    with pytest.raises(TimeoutError):
        await call(b, operation, timeout=TINY, attempts=3)
    assert operation.attempts == 1  # the overall timeout is not retried
    assert b.snapshot().failed_calls == 1


async def test_the_timeout_covers_all_retries_not_each_attempt() -> None:
    operation = Scripted(ConnectionResetError(), hang=True)
    with pytest.raises(TimeoutError):
        await call(breaker(), operation, timeout=TINY, attempts=3)
    assert operation.attempts == 2  # the retry ran under the same, already running, timeout


async def test_an_open_breaker_refuses_without_calling_the_operation() -> None:
    b = breaker()
    with pytest.raises(ValueError, match="broken"):
        await call(b, Scripted(ValueError("broken")))
    operation = Scripted()
    with pytest.raises(CircuitOpen):
        await call(b, operation)
    assert operation.attempts == 0
    assert b.snapshot().not_permitted_calls == 1


async def test_backoff_is_jittered_exponential_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", no_sleep)  # tenacity looks it up at each wait
    operation = Scripted(*[ConnectionResetError() for _ in range(5)])
    result = await call(
        breaker(), operation, attempts=6, backoff_seconds=0.2, max_backoff_seconds=1.0
    )
    assert result == "answer"
    ceilings = [0.2, 0.4, 0.8, 1.0, 1.0]
    assert len(waits) == len(ceilings)
    assert all(0 <= wait <= ceiling for wait, ceiling in zip(waits, ceilings, strict=True))


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": 0.0},
        {"attempts": 0},
        {"backoff_seconds": -0.1},
        {"max_backoff_seconds": -1.0},
    ],
)
async def test_invalid_options_are_refused_before_calling(options: dict[str, Any]) -> None:
    operation = Scripted()
    with pytest.raises(ValueError, match="must"):
        await call(breaker(), operation, **options)
    assert operation.attempts == 0

"""Conformance tests for the circuit breaker: one rule each, on a clock moved by hand."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from shelfmark.seedwork.infrastructure.breaker import (
    BreakerConfig,
    BreakerRegistry,
    BreakerSnapshot,
    CircuitBreaker,
    CircuitOpen,
    State,
)

START = 1000.0

Operation = Callable[[], Awaitable[str]]


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Boom(Exception):
    pass


class Ignored(Exception):
    pass


class SubclassOfIgnored(Ignored):
    pass


class Shutdown(BaseException):
    pass


async def succeed() -> str:
    return "ok"


async def fail() -> str:
    raise Boom


def taking(clock: FakeClock, seconds: float, *, failing: bool = False) -> Operation:
    async def operation() -> str:
        clock.advance(seconds)
        if failing:
            raise Boom
        return "ok"

    return operation


class Spy:
    """An operation that remembers whether it was awaited."""

    def __init__(self) -> None:
        self.awaited = 0

    async def __call__(self) -> str:
        self.awaited += 1
        return "ok"


class Held:
    """An operation that stays in flight until released."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()

    async def __call__(self) -> str:
        self.started += 1
        await self.release.wait()
        return "ok"


async def record(breaker: CircuitBreaker, *outcomes: Operation) -> None:
    for operation in outcomes:
        with contextlib.suppress(Boom):
            await breaker.call(operation)


def calls(successes: int = 0, failures: int = 0) -> tuple[Operation, ...]:
    return (succeed,) * successes + (fail,) * failures


CONFIG = BreakerConfig(
    window="count",
    window_size=10,
    minimum_calls=10,
    failure_rate_threshold=50.0,
    slow_call_rate_threshold=100.0,
    slow_call_seconds=2.0,
    open_seconds=30.0,
    half_open_calls=3,
)


@pytest.fixture
def ticks() -> FakeClock:
    return FakeClock()


def breaker_with(clock: FakeClock, **changes: Any) -> CircuitBreaker:
    return CircuitBreaker("dependency", replace(CONFIG, **changes), clock=clock)


async def opened(clock: FakeClock, **changes: Any) -> CircuitBreaker:
    breaker = breaker_with(clock, **changes)
    await record(breaker, *calls(failures=breaker.config.effective_minimum_calls))
    assert breaker.state == "open"
    return breaker


async def half_open(clock: FakeClock, **changes: Any) -> CircuitBreaker:
    breaker = await opened(clock, **changes)
    clock.advance(breaker.config.open_seconds)
    return breaker


# --- configuration -------------------------------------------------------------------------


def test_the_default_config_is_valid() -> None:
    assert BreakerConfig().window_size == 20


@pytest.mark.parametrize(
    "changes",
    [
        {"window": "sliding"},
        {"window_size": 0},
        {"minimum_calls": 0},
        {"failure_rate_threshold": 0.0},
        {"failure_rate_threshold": 100.1},
        {"failure_rate_threshold": float("nan")},
        {"slow_call_rate_threshold": 0.0},
        {"slow_call_rate_threshold": 101.0},
        {"slow_call_seconds": 0.0},
        {"open_seconds": 0.0},
        {"open_seconds": -1.0},
        {"half_open_calls": 0},
    ],
)
def test_an_invalid_config_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="invalid breaker config"):
        replace(CONFIG, **changes)


def test_thresholds_of_exactly_100_percent_are_valid() -> None:
    config = replace(CONFIG, failure_rate_threshold=100.0, slow_call_rate_threshold=100.0)
    assert config.failure_rate_threshold == 100.0


# --- closed --------------------------------------------------------------------------------


async def test_a_new_breaker_is_closed_and_permits_calls(ticks: FakeClock) -> None:
    breaker = breaker_with(ticks)
    assert await breaker.call(succeed) == "ok"
    assert breaker.state == "closed"


async def test_it_stays_closed_below_minimum_calls_even_at_100_percent_failures(
    ticks: FakeClock,
) -> None:
    breaker = breaker_with(ticks, window_size=20, minimum_calls=10)
    await record(breaker, *calls(failures=9))
    assert breaker.state == "closed"
    assert breaker.snapshot().failure_rate == -1.0


@pytest.mark.parametrize(("failures", "state"), [(4, "closed"), (5, "open")])
async def test_it_opens_exactly_when_the_failure_rate_reaches_the_threshold(
    ticks: FakeClock, failures: int, state: State
) -> None:
    breaker = breaker_with(ticks)
    await record(breaker, *calls(successes=10 - failures), *calls(failures=failures))
    assert breaker.state == state


async def test_the_rate_is_judged_after_a_success_too(ticks: FakeClock) -> None:
    breaker = breaker_with(ticks)
    await record(breaker, *calls(failures=5, successes=4))
    assert breaker.state == "closed"  # 9 calls: below the minimum
    await record(breaker, succeed)
    assert breaker.snapshot().state == "open"  # the 10th call, a success, completes 5/10


@pytest.mark.parametrize(("slow", "state"), [(4, "closed"), (5, "open")])
async def test_successful_but_slow_calls_open_it_at_the_slow_call_rate(
    ticks: FakeClock, slow: int, state: State
) -> None:
    breaker = breaker_with(ticks, slow_call_rate_threshold=50.0)
    await record(breaker, *calls(successes=10 - slow), *(taking(ticks, 2.0),) * slow)
    assert breaker.state == state
    assert breaker.snapshot().failed_calls == 0


async def test_a_call_is_slow_from_exactly_slow_call_seconds(ticks: FakeClock) -> None:
    breaker = breaker_with(ticks, slow_call_seconds=2.0)
    await record(breaker, taking(ticks, 1.999), taking(ticks, 2.0))
    assert breaker.snapshot().slow_calls == 1


async def test_a_slow_failure_counts_as_both_failed_and_slow(ticks: FakeClock) -> None:
    breaker = breaker_with(ticks)
    await record(breaker, taking(ticks, 5.0, failing=True))
    snapshot = breaker.snapshot()
    assert (snapshot.calls, snapshot.failed_calls, snapshot.slow_calls) == (1, 1, 1)


async def test_a_count_window_forgets_all_but_the_last_n_calls(ticks: FakeClock) -> None:
    breaker = breaker_with(ticks, window_size=4, minimum_calls=4, failure_rate_threshold=100.0)
    await record(breaker, *calls(failures=3), *calls(successes=4))
    snapshot = breaker.snapshot()
    assert (snapshot.calls, snapshot.failed_calls, snapshot.failure_rate) == (4, 0, 0.0)


async def test_a_count_window_caps_minimum_calls_at_its_size(ticks: FakeClock) -> None:
    breaker = breaker_with(ticks, window_size=4, minimum_calls=10)
    await record(breaker, *calls(failures=4))
    assert breaker.state == "open"


async def test_a_time_window_forgets_calls_older_than_n_seconds(ticks: FakeClock) -> None:
    breaker = breaker_with(ticks, window="time", window_size=10, minimum_calls=2)
    await record(breaker, fail)
    ticks.advance(10.0)
    await record(breaker, succeed, succeed)
    snapshot = breaker.snapshot()
    assert (breaker.state, snapshot.calls, snapshot.failed_calls) == ("closed", 2, 0)


async def test_a_time_window_counts_calls_from_all_of_its_seconds(ticks: FakeClock) -> None:
    breaker = breaker_with(ticks, window="time", window_size=10, minimum_calls=2)
    await record(breaker, fail)
    ticks.advance(9.0)
    await record(breaker, succeed)
    assert breaker.state == "open"  # 1 of 2 calls failed


async def test_a_time_window_prunes_when_read(ticks: FakeClock) -> None:
    breaker = breaker_with(ticks, window="time", window_size=10, minimum_calls=5)
    await record(breaker, fail, succeed, fail)
    assert breaker.snapshot().calls == 3
    ticks.advance(10.0)
    assert breaker.snapshot().calls == 0


# --- open ----------------------------------------------------------------------------------


async def test_an_open_breaker_refuses_without_calling_the_operation(ticks: FakeClock) -> None:
    breaker = await opened(ticks)
    operation = Spy()
    for _ in range(3):
        with pytest.raises(CircuitOpen) as refused:
            await breaker.call(operation)
    assert operation.awaited == 0
    assert refused.value.breaker == "dependency"
    assert breaker.snapshot().not_permitted_calls == 3


async def test_it_stays_open_until_open_seconds_have_passed(ticks: FakeClock) -> None:
    breaker = await opened(ticks, open_seconds=30.0)
    ticks.advance(29.999)
    with pytest.raises(CircuitOpen):
        await breaker.call(succeed)
    assert breaker.state == "open"


async def test_it_does_not_become_half_open_without_a_call(ticks: FakeClock) -> None:
    breaker = await opened(ticks)
    ticks.advance(60.0)
    assert breaker.state == "open"


async def test_after_open_seconds_the_next_call_is_a_half_open_trial(ticks: FakeClock) -> None:
    breaker = await half_open(ticks)
    operation = Spy()
    assert await breaker.call(operation) == "ok"
    assert operation.awaited == 1
    snapshot = breaker.snapshot()
    assert (snapshot.state, snapshot.calls) == ("half_open", 1)


# --- half-open -----------------------------------------------------------------------------


async def test_half_open_permits_exactly_half_open_calls_concurrent_trials(
    ticks: FakeClock,
) -> None:
    breaker = await half_open(ticks, half_open_calls=3)
    held = Held()
    trials = [asyncio.create_task(breaker.call(held)) for _ in range(3)]
    await asyncio.sleep(0)  # let the trials start and take their permits
    extra = Spy()
    with pytest.raises(CircuitOpen):
        await breaker.call(extra)
    held.release.set()
    assert await asyncio.gather(*trials) == ["ok"] * 3
    assert (held.started, extra.awaited) == (3, 0)
    assert breaker.snapshot().not_permitted_calls == 1


async def test_a_failed_trial_does_not_reopen_it_before_all_trials_report(
    ticks: FakeClock,
) -> None:
    breaker = await half_open(ticks, half_open_calls=3)
    await record(breaker, fail, fail)
    snapshot = breaker.snapshot()
    assert (snapshot.state, snapshot.failed_calls, snapshot.failure_rate) == ("half_open", 2, -1.0)


async def test_half_open_closes_when_the_trial_failure_rate_is_below_threshold(
    ticks: FakeClock,
) -> None:
    breaker = await half_open(ticks, half_open_calls=3)
    await record(breaker, fail, succeed, succeed)  # 33%
    snapshot = breaker.snapshot()
    assert (snapshot.state, snapshot.calls, snapshot.failed_calls) == ("closed", 0, 0)


@pytest.mark.parametrize(
    ("half_open_calls", "trials"),
    [(3, (fail, fail, succeed)), (2, (fail, succeed)), (1, (fail,))],
    ids=["67%", "50%", "100%"],
)
async def test_half_open_reopens_when_the_trial_failure_rate_reaches_threshold(
    ticks: FakeClock, half_open_calls: int, trials: tuple[Operation, ...]
) -> None:
    breaker = await half_open(ticks, half_open_calls=half_open_calls)
    await record(breaker, *trials)
    assert breaker.state == "open"


async def test_half_open_reopens_when_the_trial_slow_call_rate_reaches_threshold(
    ticks: FakeClock,
) -> None:
    breaker = await half_open(ticks, half_open_calls=2, slow_call_rate_threshold=50.0)
    await record(breaker, succeed, taking(ticks, 2.0))
    assert breaker.state == "open"


async def test_a_reopened_breaker_restarts_the_open_timer(ticks: FakeClock) -> None:
    breaker = await half_open(ticks, half_open_calls=1, open_seconds=30.0)
    await record(breaker, fail)
    reopened_at = ticks.now
    ticks.advance(29.0)
    with pytest.raises(CircuitOpen):
        await breaker.call(succeed)
    ticks.advance(1.0)
    await breaker.call(succeed)
    assert breaker.state == "closed"
    assert ticks.now - reopened_at == 30.0


async def test_rejected_calls_in_half_open_count_as_not_permitted(ticks: FakeClock) -> None:
    breaker = await half_open(ticks, half_open_calls=1)
    held = Held()
    trial = asyncio.create_task(breaker.call(held))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpen):
        await breaker.call(succeed)
    held.release.set()
    await trial
    assert breaker.snapshot().not_permitted_calls == 1


async def test_a_call_permitted_in_an_earlier_state_does_not_count_as_a_trial(
    ticks: FakeClock,
) -> None:
    breaker = breaker_with(ticks, half_open_calls=1)
    held = Held()
    straggler = asyncio.create_task(breaker.call(held))
    await asyncio.sleep(0)
    await record(breaker, *calls(failures=10))
    ticks.advance(30.0)
    await breaker.call(succeed)  # the one trial: closes it
    assert breaker.state == "closed"
    held.release.set()
    await straggler
    assert breaker.snapshot().calls == 0


# --- what is not recorded ------------------------------------------------------------------


async def test_a_failure_propagates_unchanged(ticks: FakeClock) -> None:
    breaker = breaker_with(ticks)
    error = Boom("the original")

    async def operation() -> str:
        raise error

    with pytest.raises(Boom) as raised:
        await breaker.call(operation)
    assert raised.value is error


@pytest.mark.parametrize("error", [Ignored, SubclassOfIgnored])
async def test_ignored_exceptions_propagate_unrecorded(
    ticks: FakeClock, error: type[Exception]
) -> None:
    breaker = CircuitBreaker("dependency", CONFIG, clock=ticks, ignore=(Ignored,))

    async def operation() -> str:
        raise error

    for _ in range(10):
        with pytest.raises(error):
            await breaker.call(operation)
    assert (breaker.state, breaker.snapshot().calls) == ("closed", 0)


async def test_an_ignored_exception_in_half_open_gives_its_permit_back(ticks: FakeClock) -> None:
    breaker = CircuitBreaker(
        "dependency", replace(CONFIG, half_open_calls=1), clock=ticks, ignore=(Ignored,)
    )
    await record(breaker, *calls(failures=10))
    ticks.advance(30.0)

    async def ignored() -> str:
        raise Ignored

    with pytest.raises(Ignored):
        await breaker.call(ignored)
    assert breaker.state == "half_open"
    await breaker.call(succeed)
    assert breaker.snapshot().state == "closed"


async def test_a_cancelled_call_is_not_recorded(ticks: FakeClock) -> None:
    breaker = breaker_with(ticks)
    task = asyncio.create_task(breaker.call(Held()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.snapshot().calls == 0


async def test_a_cancelled_trial_gives_its_permit_back(ticks: FakeClock) -> None:
    breaker = await half_open(ticks, half_open_calls=1)
    task = asyncio.create_task(breaker.call(Held()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await breaker.call(succeed)
    assert breaker.state == "closed"


async def test_a_base_exception_that_is_not_an_exception_is_not_recorded(
    ticks: FakeClock,
) -> None:
    breaker = breaker_with(ticks)

    async def operation() -> str:
        raise Shutdown

    with pytest.raises(Shutdown):
        await breaker.call(operation)
    assert breaker.snapshot().calls == 0


# --- transitions, snapshots, reset ---------------------------------------------------------


async def test_on_transition_hears_every_state_change(ticks: FakeClock) -> None:
    heard: list[tuple[str, State, State]] = []
    breaker = CircuitBreaker(
        "dependency",
        replace(CONFIG, half_open_calls=1),
        clock=ticks,
        on_transition=lambda *change: heard.append(change),
    )
    await record(breaker, *calls(failures=10))
    ticks.advance(30.0)
    await record(breaker, fail)
    ticks.advance(30.0)
    await record(breaker, succeed)
    assert heard == [
        ("dependency", "closed", "open"),
        ("dependency", "open", "half_open"),
        ("dependency", "half_open", "open"),
        ("dependency", "open", "half_open"),
        ("dependency", "half_open", "closed"),
    ]


async def test_a_failing_transition_listener_does_not_fail_the_call(ticks: FakeClock) -> None:
    def broken(name: str, old: State, new: State) -> None:
        raise RuntimeError("listener bug")

    breaker = CircuitBreaker(
        "dependency", replace(CONFIG, half_open_calls=1), clock=ticks, on_transition=broken
    )
    await record(breaker, *calls(failures=10))
    ticks.advance(30.0)
    assert await breaker.call(succeed) == "ok"
    assert breaker.state == "closed"


async def test_a_snapshot_of_a_new_breaker(ticks: FakeClock) -> None:
    assert breaker_with(ticks).snapshot() == BreakerSnapshot(
        name="dependency",
        state="closed",
        calls=0,
        failed_calls=0,
        slow_calls=0,
        failure_rate=-1.0,
        slow_call_rate=-1.0,
        not_permitted_calls=0,
        last_transition_at=START,
    )


async def test_a_snapshot_of_an_open_breaker_shows_the_window_that_opened_it(
    ticks: FakeClock,
) -> None:
    breaker = breaker_with(ticks)
    await record(breaker, *calls(successes=4), taking(ticks, 3.0), *calls(failures=5))
    with pytest.raises(CircuitOpen):
        await breaker.call(succeed)
    assert breaker.snapshot() == BreakerSnapshot(
        name="dependency",
        state="open",
        calls=10,
        failed_calls=5,
        slow_calls=1,
        failure_rate=50.0,
        slow_call_rate=10.0,
        not_permitted_calls=1,
        last_transition_at=START + 3.0,
    )


async def test_reset_closes_it_with_an_empty_window(ticks: FakeClock) -> None:
    heard: list[tuple[str, State, State]] = []
    breaker = CircuitBreaker(
        "dependency", CONFIG, clock=ticks, on_transition=lambda *change: heard.append(change)
    )
    await record(breaker, *calls(failures=10))
    with pytest.raises(CircuitOpen):
        await breaker.call(succeed)
    ticks.advance(5.0)
    breaker.reset()
    snapshot = breaker.snapshot()
    assert (snapshot.state, snapshot.calls, snapshot.not_permitted_calls) == ("closed", 0, 0)
    assert snapshot.last_transition_at == START + 5.0
    assert heard[-1] == ("dependency", "open", "closed")
    assert await breaker.call(succeed) == "ok"


# --- registry ------------------------------------------------------------------------------


def test_the_registry_returns_the_same_breaker_for_a_name(ticks: FakeClock) -> None:
    registry = BreakerRegistry(clock=ticks)
    first = registry.get("search", CONFIG)
    assert registry.get("search") is first
    assert registry.get("search", CONFIG) is first
    assert registry.get("mail") is not first


def test_the_registry_creates_breakers_with_its_clock_and_listener(ticks: FakeClock) -> None:
    heard: list[tuple[str, State, State]] = []
    registry = BreakerRegistry(clock=ticks, on_transition=lambda *change: heard.append(change))
    breaker = registry.get("search")
    assert breaker.config == BreakerConfig()
    assert breaker.snapshot().last_transition_at == START
    breaker.reset()  # already closed: no transition
    assert heard == []


def test_the_registry_refuses_conflicting_settings_for_a_name(ticks: FakeClock) -> None:
    registry = BreakerRegistry(clock=ticks)
    registry.get("search", CONFIG, ignore=(Ignored,))
    with pytest.raises(ValueError, match="search"):
        registry.get("search", replace(CONFIG, window_size=11))
    with pytest.raises(ValueError, match="search"):
        registry.get("search", ignore=(Boom,))


def test_registry_snapshots_are_sorted_by_name(ticks: FakeClock) -> None:
    registry = BreakerRegistry(clock=ticks)
    for name in ("search", "mail", "payments"):
        registry.get(name)
    assert [s.name for s in registry.snapshots()] == ["mail", "payments", "search"]


# --- live reconfiguration ------------------------------------------------------------------


async def test_a_lower_failure_threshold_applies_to_the_calls_already_in_the_window(
    ticks: FakeClock,
) -> None:
    breaker = breaker_with(ticks)
    await record(breaker, *calls(successes=7, failures=2))
    breaker.reconfigure(replace(CONFIG, failure_rate_threshold=30.0))
    await record(breaker, fail)  # 3 of 10: under 50% it would have stayed closed
    assert breaker.state == "open"


async def test_a_different_window_starts_empty(ticks: FakeClock) -> None:
    breaker = breaker_with(ticks)
    await record(breaker, *calls(failures=4, successes=5))
    breaker.reconfigure(replace(CONFIG, window_size=4, minimum_calls=4))
    await record(breaker, *calls(successes=3), fail)  # 1 of the 4 new calls failed
    assert breaker.state == "closed"
    assert breaker.snapshot().calls == 4


async def test_an_open_breaker_waits_out_the_new_open_time(ticks: FakeClock) -> None:
    breaker = await opened(ticks, open_seconds=30.0)
    breaker.reconfigure(replace(CONFIG, open_seconds=5.0))
    ticks.advance(5.0)
    assert await breaker.call(succeed) == "ok"
    assert breaker.state == "half_open"


async def test_the_registry_reconfigures_every_breaker(ticks: FakeClock) -> None:
    registry = BreakerRegistry(clock=ticks)
    first, second = registry.get("one", CONFIG), registry.get("two", CONFIG)
    changed = replace(CONFIG, open_seconds=7.0)
    registry.reconfigure(changed)
    assert first.config == second.config == changed
    assert registry.get("one", changed) is first  # the new settings are the breaker's own now

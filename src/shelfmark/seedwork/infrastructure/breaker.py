"""An asyncio circuit breaker with resilience4j's semantics.

Closed, every call runs and its outcome goes into a sliding window; once the window holds
enough calls, a failure rate or slow-call rate at or above its threshold opens the breaker.
Open, calls are refused with `CircuitOpen` until `open_seconds` have passed; the next attempt
after that moves to half-open, where a fixed number of trial calls run. When all of them have
reported, their rates decide: at or above a threshold it opens again (with a new timer),
otherwise it closes with an empty window.

Everything runs on the event loop, so no state change can interleave with another: there are
no locks, threads or background tasks, and time only moves when the injected clock says so.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

T = TypeVar("T")

State = Literal["closed", "open", "half_open"]
TransitionListener = Callable[[str, State, State], None]

logger = logging.getLogger(__name__)


class CircuitOpen(Exception):
    """Raised instead of calling the dependency while the breaker is open (or half-open and out
    of trial permits)."""

    breaker: str

    def __init__(self, breaker: str) -> None:
        super().__init__(breaker)
        self.breaker = breaker

    def __str__(self) -> str:
        return f"circuit breaker {self.breaker!r} does not permit calls"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """How a breaker judges its dependency.

    A count window holds the last `window_size` calls; a time window holds the calls finished
    in the current second and the `window_size - 1` seconds before it. With a count window,
    `minimum_calls` larger than the window means "a full window" (as in resilience4j).
    Thresholds are percentages in (0, 100] and trip when reached, not only when exceeded.
    """

    window: Literal["count", "time"] = "count"
    window_size: int = 20
    minimum_calls: int = 10
    failure_rate_threshold: float = 50.0
    slow_call_rate_threshold: float = 100.0
    slow_call_seconds: float = 5.0
    open_seconds: float = 30.0
    half_open_calls: int = 3

    def __post_init__(self) -> None:
        problems = [
            *_check(self.window in ("count", "time"), "window must be 'count' or 'time'"),
            *_check(self.window_size >= 1, "window_size must be at least 1"),
            *_check(self.minimum_calls >= 1, "minimum_calls must be at least 1"),
            *_check(
                _is_percentage(self.failure_rate_threshold),
                "failure_rate_threshold must be in (0, 100]",
            ),
            *_check(
                _is_percentage(self.slow_call_rate_threshold),
                "slow_call_rate_threshold must be in (0, 100]",
            ),
            *_check(self.slow_call_seconds > 0, "slow_call_seconds must be positive"),
            *_check(self.open_seconds > 0, "open_seconds must be positive"),
            *_check(self.half_open_calls >= 1, "half_open_calls must be at least 1"),
        ]
        if problems:
            raise ValueError("invalid breaker config: " + "; ".join(problems))

    @property
    def effective_minimum_calls(self) -> int:
        """A count window can never hold more than `window_size` calls."""
        if self.window == "count":
            return min(self.minimum_calls, self.window_size)
        return self.minimum_calls


def _check(ok: bool, problem: str) -> list[str]:
    return [] if ok else [problem]


def _is_percentage(value: float) -> bool:
    return 0 < value <= 100  # also false for NaN


DEFAULT_CONFIG = BreakerConfig()


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """The breaker as metrics and health checks see it.

    In half-open, the counts are those of the trial calls reported so far. Rates are -1.0
    until the window holds the minimum number of calls (all trials, in half-open).
    `not_permitted_calls` counts every refusal since creation (or the last `reset`), and
    `last_transition_at` is when the current state began (creation and `reset` count).
    """

    name: str
    state: State
    calls: int
    failed_calls: int
    slow_calls: int
    failure_rate: float
    slow_call_rate: float
    not_permitted_calls: int
    last_transition_at: float


@dataclass(slots=True)
class _Tally:
    calls: int = 0
    failed: int = 0
    slow: int = 0

    def add(self, other: _Tally) -> None:
        self.calls += other.calls
        self.failed += other.failed
        self.slow += other.slow

    def subtract(self, other: _Tally) -> None:
        self.calls -= other.calls
        self.failed -= other.failed
        self.slow -= other.slow


class _Window(Protocol):
    minimum_calls: int

    def record(self, now: float, outcome: _Tally) -> None: ...

    def tally(self, now: float) -> _Tally: ...


class _CountWindow:
    """The last `size` outcomes; the oldest falls out as a new one comes in."""

    def __init__(self, size: int, minimum_calls: int) -> None:
        self.minimum_calls = minimum_calls
        self._size = size
        self._outcomes: deque[_Tally] = deque()
        self._total = _Tally()

    def record(self, now: float, outcome: _Tally) -> None:
        if len(self._outcomes) == self._size:
            self._total.subtract(self._outcomes.popleft())
        self._outcomes.append(outcome)
        self._total.add(outcome)

    def tally(self, now: float) -> _Tally:
        return self._total


class _TimeWindow:
    """Outcomes in per-second buckets; a bucket falls out `seconds` seconds after it began, so
    memory stays bounded by the window length, not by the call rate."""

    def __init__(self, seconds: int, minimum_calls: int) -> None:
        self.minimum_calls = minimum_calls
        self._seconds = seconds
        self._buckets: deque[tuple[int, _Tally]] = deque()
        self._total = _Tally()

    def record(self, now: float, outcome: _Tally) -> None:
        self._prune(now)
        second = math.floor(now)
        if not self._buckets or self._buckets[-1][0] < second:
            self._buckets.append((second, _Tally()))
        self._buckets[-1][1].add(outcome)  # a clock that steps back lands in the newest bucket
        self._total.add(outcome)

    def tally(self, now: float) -> _Tally:
        self._prune(now)
        return self._total

    def _prune(self, now: float) -> None:
        oldest_kept = math.floor(now) - self._seconds + 1
        while self._buckets and self._buckets[0][0] < oldest_kept:
            self._total.subtract(self._buckets.popleft()[1])


def _window_for(state: State, config: BreakerConfig) -> _Window:
    if state == "half_open":
        return _CountWindow(config.half_open_calls, config.half_open_calls)
    if config.window == "time":
        return _TimeWindow(config.window_size, config.effective_minimum_calls)
    return _CountWindow(config.window_size, config.effective_minimum_calls)


def _rates(tally: _Tally, minimum_calls: int) -> tuple[float, float]:
    """(failure rate, slow-call rate) in percent, or -1.0 each below the minimum."""
    if tally.calls == 0 or tally.calls < minimum_calls:
        return -1.0, -1.0
    return tally.failed * 100.0 / tally.calls, tally.slow * 100.0 / tally.calls


class CircuitBreaker:
    """Guards one dependency.

    Only an `Exception` outside `ignore` counts as a failure. An ignored exception, and any
    `BaseException` that is not an `Exception` (cancellation above all), counts as nothing:
    it propagates unrecorded and, in half-open, hands its trial permit back.

    A result is recorded only in the state that permitted its call: a slow call that began
    while closed and ends after the breaker opened does not count towards the trials.
    """

    def __init__(
        self,
        name: str,
        config: BreakerConfig = DEFAULT_CONFIG,
        *,
        clock: Callable[[], float] = time.monotonic,
        ignore: tuple[type[BaseException], ...] = (),
        on_transition: TransitionListener | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.ignore = ignore
        self._clock = clock
        self._on_transition = on_transition
        self._state: State = "closed"
        self._epoch = 0  # which state instance permitted a call
        self._window = _window_for("closed", config)
        self._trial_permits = 0
        self._not_permitted = 0
        self._last_transition_at = clock()

    @property
    def state(self) -> State:
        """Read-only: an open breaker becomes half-open on the next call attempt, not here."""
        return self._state

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation` if the state permits, else raise `CircuitOpen` without running it."""
        epoch = self._acquire_permission()
        started = self._clock()
        try:
            result = await operation()
        except BaseException as error:
            if isinstance(error, Exception) and not isinstance(error, self.ignore):
                self._record(epoch, started, failed=True)
            else:
                self._release_permission(epoch)
            raise
        self._record(epoch, started, failed=False)
        return result

    def snapshot(self) -> BreakerSnapshot:
        tally = self._window.tally(self._clock())
        failure_rate, slow_call_rate = _rates(tally, self._window.minimum_calls)
        return BreakerSnapshot(
            name=self.name,
            state=self._state,
            calls=tally.calls,
            failed_calls=tally.failed,
            slow_calls=tally.slow,
            failure_rate=failure_rate,
            slow_call_rate=slow_call_rate,
            not_permitted_calls=self._not_permitted,
            last_transition_at=self._last_transition_at,
        )

    def reconfigure(self, config: BreakerConfig) -> None:
        """Judges by `config` from now on, in the state it is in (an open breaker waits out the
        new open time, counted from when it opened). A different window (kind, size or minimum
        of calls) starts empty; the same window keeps its calls."""
        window = (config.window, config.window_size, config.effective_minimum_calls)
        same_window = window == (
            self.config.window,
            self.config.window_size,
            self.config.effective_minimum_calls,
        )
        self.config = config
        if not same_window and self._state == "closed":
            self._window = _window_for("closed", config)

    def reset(self) -> None:
        """Closed, with an empty window and no refusals; calls still in flight are not recorded.
        Reported as a transition only if the breaker was not already closed."""
        self._not_permitted = 0
        self._transition_to("closed", notify=self._state != "closed")

    def _acquire_permission(self) -> int:
        if self._state == "open" and self._open_time_elapsed():
            self._transition_to("half_open")
        if self._state == "open" or (
            self._state == "half_open" and self._trial_permits >= self.config.half_open_calls
        ):
            self._not_permitted += 1
            raise CircuitOpen(self.name)
        if self._state == "half_open":
            self._trial_permits += 1
        return self._epoch

    def _open_time_elapsed(self) -> bool:
        return self._clock() - self._last_transition_at >= self.config.open_seconds

    def _release_permission(self, epoch: int) -> None:
        if epoch == self._epoch and self._state == "half_open":
            self._trial_permits -= 1

    def _record(self, epoch: int, started: float, *, failed: bool) -> None:
        if epoch != self._epoch:
            return
        now = self._clock()
        slow = now - started >= self.config.slow_call_seconds
        self._window.record(now, _Tally(1, int(failed), int(slow)))
        self._judge(self._window.tally(now))

    def _judge(self, tally: _Tally) -> None:
        failure_rate, slow_call_rate = _rates(tally, self._window.minimum_calls)
        if failure_rate < 0:
            return
        if (
            failure_rate >= self.config.failure_rate_threshold
            or slow_call_rate >= self.config.slow_call_rate_threshold
        ):
            self._transition_to("open")
        elif self._state == "half_open":
            self._transition_to("closed")

    def _transition_to(self, new: State, *, notify: bool = True) -> None:
        """Opening keeps the window that tripped it (for snapshots); half-open and closed start
        an empty one. Every transition ends the permits of the state it leaves."""
        old = self._state
        if new != "open":
            self._window = _window_for(new, self.config)
        self._state = new
        self._epoch += 1
        self._trial_permits = 0
        self._last_transition_at = self._clock()
        if notify and self._on_transition is not None:
            _notify(self._on_transition, self.name, old, new)


def _notify(listener: TransitionListener, name: str, old: State, new: State) -> None:
    """A broken listener must not turn a dependency's answer into an error: it is logged."""
    try:
        listener(name, old, new)
    except Exception:
        logger.exception("circuit breaker %r: transition listener failed", name)


class BreakerRegistry:
    """One breaker per dependency name, shared by everything in the process.

    The first `get` for a name fixes its config and ignored exceptions; a later `get` that
    names a different config or a different non-empty `ignore` is a wiring mistake and raises
    `ValueError` rather than silently using the first one.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionListener | None = None,
    ) -> None:
        self._clock = clock
        self._on_transition = on_transition
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        ignore: tuple[type[BaseException], ...] = (),
    ) -> CircuitBreaker:
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = CircuitBreaker(
                name,
                config if config is not None else DEFAULT_CONFIG,
                clock=self._clock,
                ignore=ignore,
                on_transition=self._on_transition,
            )
            self._breakers[name] = breaker
        elif (config is not None and config != breaker.config) or (
            ignore and ignore != breaker.ignore
        ):
            raise ValueError(f"circuit breaker {name!r} already exists with other settings")
        return breaker

    def reconfigure(self, config: BreakerConfig) -> None:
        """Every breaker judges by `config` from now on (see `CircuitBreaker.reconfigure`)."""
        for breaker in self._breakers.values():
            breaker.reconfigure(config)

    def snapshots(self) -> list[BreakerSnapshot]:
        return [self._breakers[name].snapshot() for name in sorted(self._breakers)]

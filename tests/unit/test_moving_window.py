"""The in-process moving window: its limit, its window, what it tells a refused caller, and
that keys nobody uses any more are forgotten."""

from __future__ import annotations

from limits import parse

from shelfmark.seedwork.infrastructure.moving_window import SWEEP_AT_LEAST, InProcessLimiter

THREE_A_MINUTE = parse("3/minute")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_the_limit_holds_within_the_window_and_frees_as_hits_leave_it() -> None:
    clock = Clock()
    limiter = InProcessLimiter(clock)
    for second in (0, 10, 20):
        clock.now = 1_000_000.0 + second
        assert await limiter.hit(THREE_A_MINUTE, "client", "a")
    assert not await limiter.hit(THREE_A_MINUTE, "client", "a")
    assert await limiter.hit(THREE_A_MINUTE, "client", "b"), "another key has its own window"

    stats = await limiter.get_window_stats(THREE_A_MINUTE, "client", "a")
    assert (stats.reset_time, stats.remaining) == (1_000_060.0, 0)

    clock.now = 1_000_060.0  # the first hit leaves the window
    assert await limiter.test(THREE_A_MINUTE, "client", "a")
    assert await limiter.hit(THREE_A_MINUTE, "client", "a")
    assert not await limiter.test(THREE_A_MINUTE, "client", "a")


async def test_a_refused_hit_and_a_test_count_nothing() -> None:
    clock = Clock()
    limiter = InProcessLimiter(clock)
    for _ in range(3):
        await limiter.hit(THREE_A_MINUTE, "k")
    for _ in range(5):
        assert not await limiter.hit(THREE_A_MINUTE, "k")
        assert not await limiter.test(THREE_A_MINUTE, "k")
    clock.now += 60
    assert (await limiter.get_window_stats(THREE_A_MINUTE, "k")).remaining == 3


async def test_keys_with_no_live_hit_are_forgotten() -> None:
    clock = Clock()
    limiter = InProcessLimiter(clock)
    for name in range(SWEEP_AT_LEAST):
        await limiter.hit(THREE_A_MINUTE, "login", str(name))
    clock.now += 61
    for name in range(10 * SWEEP_AT_LEAST):  # ten times as many names, one at a time
        await limiter.hit(THREE_A_MINUTE, "login", f"later-{name}")
        clock.now += 61
    assert len(limiter) <= SWEEP_AT_LEAST + 1

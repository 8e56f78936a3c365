"""A moving-window rate limiter in this process, with `limits`' asynchronous interface.

`limits`' own in-memory storages did not fit an API process: the asynchronous one starts a
task and a thread-pool hop to expire old entries on nearly every hit (about a fifth of a
cached read's CPU); the synchronous one starts a timer thread whenever the last one ended and
never forgets a key once its entries expired (a key per client address and per login name
tried, so memory grew with every new one). Here each key keeps the times of its hits still
inside the window, oldest first, at most the limit's amount of them; a hit drops the expired
ones from the front. Keys left with no live hit are swept once the number of keys has
doubled since the last sweep, so memory follows the keys in use. Every call runs on the event
loop's thread without waiting, so nothing needs a lock.

`limits`' items (`parse("100/minute")`) and `WindowStats` are kept, so the Redis-backed
limiter of scaled mode and this one are used alike."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from limits import RateLimitItem, WindowStats

SWEEP_AT_LEAST = 1024


class InProcessLimiter:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # real time: callers turn the reset time into a Retry-After
        self._windows: dict[str, tuple[float, deque[float]]] = {}
        self._sweep_above = SWEEP_AT_LEAST

    def __len__(self) -> int:
        return len(self._windows)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Counts a hit if the window has room for it."""
        hits = self._live(item, identifiers)
        if len(hits) >= item.amount:
            return False
        hits.append(self._clock())
        return True

    async def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Whether a hit would be allowed, counting nothing."""
        return len(self._live(item, identifiers)) < item.amount

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        """When the oldest live hit leaves the window, and the hits left until then."""
        hits = self._live(item, identifiers)
        reset = hits[0] + item.get_expiry() if hits else self._clock()
        return WindowStats(reset, item.amount - len(hits))

    def _live(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> deque[float]:
        key, expiry = item.key_for(*identifiers), item.get_expiry()
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= self._sweep_above:
                self._sweep()
            window = self._windows[key] = (expiry, deque())
        hits, oldest_kept = window[1], self._clock() - expiry
        while hits and hits[0] <= oldest_kept:
            hits.popleft()
        return hits

    def _sweep(self) -> None:
        now = self._clock()
        self._windows = {
            key: (expiry, hits)
            for key, (expiry, hits) in self._windows.items()
            if hits and hits[-1] > now - expiry
        }
        self._sweep_above = max(SWEEP_AT_LEAST, 2 * len(self._windows))

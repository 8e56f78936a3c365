"""A cache of ready-made bytes (serialised responses) behind one port: the port, the in-process
adapter, and the single-flight both adapters use (the Redis adapter is in `redis_cache.py`).

A cache is only ever an optimisation: no method raises because the cache is unavailable. A read
that cannot reach it is a miss, a write or delete that cannot reach it is skipped (the Redis
adapter remembers failed deletes and does them before its next read). Entries expire after their
TTL, which bounds how stale an entry can be when an invalidation is lost.

Keys and tags share one namespace. A tag names a set of keys (`set(..., tags=...)` files the
key under each tag) so that `delete(tags=...)` removes every key filed under it: a targeted
delete of the listed keys, never a flush of the namespace.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a loader produced: the bytes to cache and the tags to file them under."""

    value: bytes
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Lookup:
    """The value, and `hit`: False only for the call that ran the loader. A call that waited
    for another one's load (in this process or another) counts as a hit: it loaded nothing."""

    value: bytes
    hit: bool


Loader = Callable[[], Awaitable[Loaded]]


class ResponseCache(Protocol):
    @property
    def name(self) -> str:
        """How readiness names this cache."""
        ...

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float, tags: Iterable[str] = ()) -> None: ...

    async def delete(self, *keys: str, tags: Iterable[str] = ()) -> None:
        """Removes the keys and every key filed under one of the tags (and the tags)."""
        ...

    async def get_or_load(
        self, key: str, loader: Loader, ttl: float, *, missed: bool = False
    ) -> Lookup:
        """The cached value, or the loader's (then cached for `ttl` seconds). Concurrent calls
        for one key run one loader; a loader's exception reaches every caller waiting for it
        and nothing is cached. `missed`: the caller has just read the key and found nothing,
        so the cache goes straight to the load (a load already in flight is still joined)."""
        ...

    async def ping(self) -> bool:
        """Whether the cache answers right now."""
        ...

    async def aclose(self) -> None: ...


class SingleFlight:
    """One load per key at a time in this process: later callers await the first one's task.

    The load runs in a task of its own, shielded from each caller, so a caller that goes away
    (a client hung up) neither cancels the load for the others nor leaves them waiting.
    """

    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Task[Lookup]] = {}

    async def run(self, key: str, load: Callable[[], Awaitable[Lookup]]) -> Lookup:
        flight = self._flights.get(key)
        if flight is not None:
            return Lookup((await asyncio.shield(flight)).value, hit=True)
        flight = asyncio.ensure_future(load())
        self._flights[key] = flight
        flight.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(flight)

    def _landed(self, key: str, flight: asyncio.Task[Lookup]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.cancelled():
            flight.exception()  # retrieved, so an error nobody awaited anymore is not logged


@dataclass(slots=True)
class _Entry:
    value: bytes
    expires_at: float
    tags: frozenset[str]


class MemoryResponseCache:
    """In-process LRU with a TTL per entry and at most `max_entries` entries, for embedded
    mode (one process: the events that invalidate it reach this same process). `clock` gives
    seconds; the composition root passes the application's clock, so moving it ages entries."""

    name = "cache.memory"

    def __init__(
        self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._tagged: dict[str, set[str]] = {}
        self._flights = SingleFlight()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return entry.value

    async def set(self, key: str, value: bytes, ttl: float, tags: Iterable[str] = ()) -> None:
        self._remove(key)
        entry = _Entry(value, self._clock() + ttl, frozenset(tags))
        self._entries[key] = entry
        for tag in entry.tags:
            self._tagged.setdefault(tag, set()).add(key)
        while len(self._entries) > self._max_entries:
            self._remove(next(iter(self._entries)))

    async def delete(self, *keys: str, tags: Iterable[str] = ()) -> None:
        doomed = set(keys)
        for tag in tags:
            doomed |= self._tagged.pop(tag, set())
        for key in doomed:
            self._remove(key)

    async def get_or_load(
        self, key: str, loader: Loader, ttl: float, *, missed: bool = False
    ) -> Lookup:
        cached = None if missed else await self.get(key)
        if cached is not None:
            return Lookup(cached, hit=True)

        async def load() -> Lookup:
            loaded = await loader()
            await self.set(key, loaded.value, ttl, loaded.tags)
            return Lookup(loaded.value, hit=False)

        return await self._flights.run(key, load)

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        self._entries.clear()
        self._tagged.clear()

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for tag in entry.tags:
            keys = self._tagged.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tagged[tag]

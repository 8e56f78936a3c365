"""What only the in-process cache promises: a bounded size (least recently used go first) and
expiry by the clock it is given (the application's, so a test moving it ages entries)."""

from __future__ import annotations

from shelfmark.seedwork.infrastructure.cache import Loaded, MemoryResponseCache


class Seconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_least_recently_used_entry_goes_when_the_cache_is_full() -> None:
    cache = MemoryResponseCache(max_entries=2)
    await cache.set("a", b"a", 60)
    await cache.set("b", b"b", 60)
    await cache.get("a")

    await cache.set("c", b"c", 60)

    assert len(cache) == 2
    assert [await cache.get(k) for k in ("a", "b", "c")] == [b"a", None, b"c"]


async def test_an_entry_lives_exactly_its_ttl_on_the_clock_given() -> None:
    clock = Seconds()
    cache = MemoryResponseCache(clock=clock)
    await cache.set("book:1", b"x", 30, tags=["lists:1"])

    clock.now += 29.999
    assert await cache.get("book:1") == b"x"
    clock.now += 0.001
    assert await cache.get("book:1") is None
    assert len(cache) == 0


async def test_an_expired_entry_is_loaded_again() -> None:
    clock = Seconds()
    cache = MemoryResponseCache(clock=clock)
    calls = 0

    async def loader() -> Loaded:
        nonlocal calls
        calls += 1
        return Loaded(f"version {calls}".encode())

    assert (await cache.get_or_load("k", loader, 30)).value == b"version 1"
    clock.now += 31
    assert (await cache.get_or_load("k", loader, 30)).value == b"version 2"


async def test_an_evicted_entry_leaves_its_tags_harmless() -> None:
    cache = MemoryResponseCache(max_entries=1)
    await cache.set("a", b"a", 60, tags=["t"])
    await cache.set("b", b"b", 60)

    await cache.delete(tags=["t"])

    assert await cache.get("b") == b"b"

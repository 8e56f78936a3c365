"""One suite, two read caches: in process (LRU + TTL) and in the real Redis (behind a breaker).
Each test speaks only through the port."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from shelfmark.seedwork.infrastructure.breaker import CircuitBreaker
from shelfmark.seedwork.infrastructure.cache import Loaded, MemoryResponseCache, ResponseCache
from shelfmark.seedwork.infrastructure.redis_cache import RedisResponseCache
from tests.support.redis_cache import REDIS_URL, private_prefix

TTL = 60.0
EXPIRY_BOUND_SECONDS = 5.0


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[ResponseCache]:
    if request.param == "memory":
        yield MemoryResponseCache()
        return
    async with private_prefix() as prefix:
        redis = RedisResponseCache.from_url(
            REDIS_URL, CircuitBreaker("cache.redis"), prefix=prefix, timeout=2.0
        )
        yield redis
        await redis.aclose()


class CountingLoader:
    def __init__(self, value: bytes, tags: frozenset[str] = frozenset(), pause: float = 0.0):
        self.value, self.tags, self.pause = value, tags, pause
        self.calls = 0

    async def __call__(self) -> Loaded:
        self.calls += 1
        await asyncio.sleep(self.pause)
        return Loaded(self.value, self.tags)


async def test_a_key_never_set_is_a_miss(cache: ResponseCache) -> None:
    assert await cache.get("book:nowhere") is None


async def test_a_value_set_is_read_back_and_can_be_replaced(cache: ResponseCache) -> None:
    await cache.set("book:1", b'{"title":"Dune"}', TTL)
    assert await cache.get("book:1") == b'{"title":"Dune"}'

    await cache.set("book:1", b'{"title":"Emma"}', TTL)

    assert await cache.get("book:1") == b'{"title":"Emma"}'


async def test_delete_removes_only_the_keys_named_and_may_be_repeated(
    cache: ResponseCache,
) -> None:
    await cache.set("book:1", b"one", TTL)
    await cache.set("book:2", b"two", TTL)

    await cache.delete("book:1", "book:absent")
    await cache.delete("book:1")

    assert await cache.get("book:1") is None
    assert await cache.get("book:2") == b"two"


async def test_deleting_a_tag_removes_every_key_filed_under_it_and_nothing_else(
    cache: ResponseCache,
) -> None:
    await cache.set("page:a", b"a", TTL, tags=["lists:1"])
    await cache.set("page:b", b"b", TTL, tags=["lists:1", "lists:2"])
    await cache.set("page:c", b"c", TTL, tags=["lists:2"])
    await cache.set("page:d", b"d", TTL)

    await cache.delete(tags=["lists:1"])
    await cache.delete(tags=["lists:1", "lists:never-used"])

    assert [await cache.get(k) for k in ("page:a", "page:b", "page:c", "page:d")] == [
        None,
        None,
        b"c",
        b"d",
    ]
    await cache.set("page:a", b"again", TTL, tags=["lists:1"])
    assert await cache.get("page:a") == b"again", "a tag can be reused after its delete"


async def test_an_entry_is_gone_once_its_ttl_has_passed(cache: ResponseCache) -> None:
    await cache.set("book:brief", b"soon gone", 0.3, tags=["lists:brief"])
    assert await cache.get("book:brief") == b"soon gone"

    deadline = time.monotonic() + EXPIRY_BOUND_SECONDS
    while time.monotonic() < deadline:
        if await cache.get("book:brief") is None:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"still cached {EXPIRY_BOUND_SECONDS}s after a 0.3s TTL")


async def test_get_or_load_loads_a_miss_once_and_then_hits(cache: ResponseCache) -> None:
    loader = CountingLoader(b"loaded", frozenset({"lists:9"}))

    first = await cache.get_or_load("book:9", loader, TTL)
    second = await cache.get_or_load("book:9", loader, TTL)

    assert (first.value, first.hit) == (b"loaded", False)
    assert (second.value, second.hit) == (b"loaded", True)
    assert loader.calls == 1
    await cache.delete(tags=["lists:9"])
    assert await cache.get("book:9") is None, "the loader's tags were filed"


async def test_a_caller_that_just_missed_goes_straight_to_one_load(cache: ResponseCache) -> None:
    """`missed`: the caller read the key a moment ago and found nothing (the hits layer did),
    so the cache does not read it again; concurrent such callers still share one load."""
    await cache.set("book:7", b"set since the caller's read", TTL)
    loader = CountingLoader(b"loaded", frozenset({"lists:7"}), pause=0.05)

    lookups = await asyncio.gather(
        *(cache.get_or_load("book:7", loader, TTL, missed=True) for _ in range(5))
    )

    assert loader.calls == 1
    assert {lookup.value for lookup in lookups} == {b"loaded"}
    assert await cache.get("book:7") == b"loaded"
    await cache.delete(tags=["lists:7"])
    assert await cache.get("book:7") is None, "the loader's tags were filed"


async def test_a_failing_loader_caches_nothing(cache: ResponseCache) -> None:
    async def failing() -> Loaded:
        raise LookupError("no such book")

    with pytest.raises(LookupError, match="no such book"):
        await cache.get_or_load("book:missing", failing, TTL)

    loader = CountingLoader(b"found after all")
    assert (await cache.get_or_load("book:missing", loader, TTL)).value == b"found after all"
    assert loader.calls == 1


async def test_twenty_concurrent_readers_of_a_missing_key_run_the_loader_once(
    cache: ResponseCache,
) -> None:
    loader = CountingLoader(b"expensive", pause=0.1)

    lookups = await asyncio.gather(*(cache.get_or_load("book:hot", loader, TTL) for _ in range(20)))

    assert loader.calls == 1
    assert {lookup.value for lookup in lookups} == {b"expensive"}
    assert sum(not lookup.hit for lookup in lookups) == 1


async def test_concurrent_readers_all_get_the_loaders_error(cache: ResponseCache) -> None:
    calls = 0

    async def failing() -> Loaded:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        raise LookupError("no such book")

    results = await asyncio.gather(
        *(cache.get_or_load("book:gone", failing, TTL) for _ in range(5)),
        return_exceptions=True,
    )

    assert calls == 1
    assert all(isinstance(r, LookupError) for r in results)


async def test_a_reader_that_gives_up_does_not_cancel_the_load_for_the_others(
    cache: ResponseCache,
) -> None:
    loader = CountingLoader(b"still loaded", pause=0.1)
    impatient = asyncio.create_task(cache.get_or_load("book:shared", loader, TTL))
    await asyncio.sleep(0.02)
    patient = asyncio.create_task(cache.get_or_load("book:shared", loader, TTL))
    await asyncio.sleep(0.02)

    impatient.cancel()

    assert (await patient).value == b"still loaded"
    assert loader.calls == 1
    with pytest.raises(asyncio.CancelledError):
        await impatient


async def test_a_cache_that_answers_pings(cache: ResponseCache) -> None:
    assert await cache.ping()

"""The Redis read cache across processes and through an outage: one load per key among several
processes (a `SET NX PX` lock, a bounded wait), and a Redis cut mid-test through a TCP proxy
(never the machine's Redis itself) turning every read into a load, never into an error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from shelfmark.seedwork.infrastructure.breaker import BreakerConfig, CircuitBreaker
from shelfmark.seedwork.infrastructure.cache import Loaded
from shelfmark.seedwork.infrastructure.redis_cache import RedisResponseCache
from tests.support.redis_cache import REDIS_HOST, REDIS_PORT, REDIS_URL, keys_under, private_prefix
from tests.support.tcp_proxy import TcpProxy

TTL = 60.0
OPEN_SECONDS = 0.3


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    async with private_prefix() as prefix:
        yield prefix


def breaker() -> CircuitBreaker:
    config = BreakerConfig(minimum_calls=3, window_size=10, open_seconds=OPEN_SECONDS)
    return CircuitBreaker("cache.redis", config)


def process_cache(
    prefix: str,
    url: str = REDIS_URL,
    guard: CircuitBreaker | None = None,
    timeout: float = 0.5,
    **options: float,
) -> RedisResponseCache:
    """The cache as one process builds it (its own client, its own breaker)."""
    client = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    return RedisResponseCache(client, guard or breaker(), prefix=prefix, timeout=timeout, **options)


class CountingLoader:
    def __init__(self, value: bytes, pause: float = 0.0) -> None:
        self.value, self.pause, self.calls = value, pause, 0

    async def __call__(self) -> Loaded:
        self.calls += 1
        await asyncio.sleep(self.pause)
        return Loaded(self.value)


async def test_three_processes_missing_one_key_load_it_once(prefix: str) -> None:
    """Timeouts and the wait are generous here: a machine that stalls for half a second (seen
    once in a full CI run) would otherwise send every process to the loader by the outage
    path, which the tests below cover."""
    processes = [process_cache(prefix, timeout=3.0, wait_seconds=5.0) for _ in range(3)]
    loader = CountingLoader(b"expensive", pause=0.2)
    try:
        lookups = await asyncio.gather(
            *(cache.get_or_load("book:hot", loader, TTL) for cache in processes for _ in range(7))
        )
    finally:
        for cache in processes:
            await cache.aclose()

    assert loader.calls == 1
    assert {lookup.value for lookup in lookups} == {b"expensive"}
    assert f"{prefix}:lock:book:hot" not in await keys_under(prefix), "the lock was released"


async def test_a_failed_load_releases_its_lock_and_a_stored_one_leaves_only_its_entry(
    prefix: str,
) -> None:
    cache = process_cache(prefix)

    async def failing() -> Loaded:
        raise LookupError("no such book")

    try:
        with pytest.raises(LookupError):
            await cache.get_or_load("book:gone", failing, TTL)
        assert await keys_under(prefix) == [], "the lock went with the failed load"
        await cache.get_or_load("book:1", CountingLoader(b"loaded"), TTL)
    finally:
        await cache.aclose()
    assert await keys_under(prefix) == [f"{prefix}:book:1"], "the store released the lock"


async def test_a_process_waits_only_so_long_for_another_ones_load(prefix: str) -> None:
    """The loader elsewhere never finishes (its process died holding the lock): after the
    bounded wait this process loads the value itself rather than fail."""
    cache = process_cache(prefix, wait_seconds=0.3)
    stuck = Redis.from_url(REDIS_URL)
    await stuck.set(f"{prefix}:lock:book:stuck", "another process", px=30_000)
    loader = CountingLoader(b"loaded here")
    started = time.monotonic()
    try:
        lookup = await cache.get_or_load("book:stuck", loader, TTL)
    finally:
        await stuck.aclose()
        await cache.aclose()

    assert (lookup.value, lookup.hit, loader.calls) == (b"loaded here", False, 1)
    assert time.monotonic() - started < 3.0


async def test_a_redis_outage_turns_reads_into_loads_and_resurrects_nothing(prefix: str) -> None:
    async with TcpProxy(REDIS_HOST, REDIS_PORT) as proxy:
        guard = breaker()
        cache = process_cache(prefix, url=f"redis://127.0.0.1:{proxy.port}/0", guard=guard)
        try:
            await cache.set("book:1", b"before the outage", TTL, tags=["lists:1"])
            assert await cache.get("book:1") == b"before the outage"

            await proxy.cut()
            loader = CountingLoader(b"from the database")
            for _ in range(5):
                lookup = await cache.get_or_load("book:1", loader, TTL)
                assert (lookup.value, lookup.hit) == (b"from the database", False)
            await cache.set("book:2", b"not stored", TTL)
            await cache.delete(tags=["lists:1"])  # owed until Redis answers again
            assert not await cache.ping()
            assert guard.state == "open"
            assert loader.calls == 5

            await proxy.restore()
            await asyncio.sleep(OPEN_SECONDS)

            after = await cache.get_or_load("book:1", CountingLoader(b"current"), TTL)
            assert (after.value, after.hit) == (b"current", False), "the owed delete came first"
            assert await cache.get("book:2") is None
            assert await cache.ping()
            assert (await cache.get_or_load("book:1", loader, TTL)).hit
        finally:
            await cache.aclose()

"""The read cache in Redis, shared by every process (see `cache.py` for the port's rules)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from shelfmark.seedwork.infrastructure.breaker import CircuitBreaker, CircuitOpen
from shelfmark.seedwork.infrastructure.cache import Loader, Lookup, SingleFlight
from shelfmark.seedwork.infrastructure.dependency import call_dependency

T = TypeVar("T")
logger = logging.getLogger(__name__)


#: What makes Redis unavailable to one call: refused or broken connections, a timeout, an
#: open breaker. Anything else is a bug and propagates.
UNAVAILABLE = (RedisError, OSError, TimeoutError, CircuitOpen)

#: Deletes the keys in KEYS[1..n] with n = ARGV[1], then, for each tag set after them, every
#: key filed under it and the set itself: one atomic round trip.
FORGET = """
local plain = tonumber(ARGV[1])
for i = 1, #KEYS do
  if i > plain then
    for _, member in ipairs(redis.call('SMEMBERS', KEYS[i])) do
      redis.call('DEL', member)
    end
  end
  redis.call('DEL', KEYS[i])
end
return #KEYS
"""

#: Stores KEYS[1] = ARGV[1] for ARGV[2] ms and files it under each tag in KEYS[3..n], a new
#: tag set living as long as its members; then deletes the lock KEYS[2] if it still holds the
#: token ARGV[3] (it may have expired and been taken by another; '' when there is no lock):
#: one round trip for what a load leaves behind.
STORE = """
local entry, ms = KEYS[1], ARGV[2]
redis.call('SET', entry, ARGV[1], 'PX', ms)
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], entry)
  redis.call('PEXPIRE', KEYS[i], ms, 'NX')
  redis.call('PEXPIRE', KEYS[i], ms, 'GT')
end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
end
return 1
"""

#: Deletes the lock only if it is still ours, when the load failed and stored nothing.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class _Unavailable(Exception):
    pass


class RedisResponseCache:
    """Redis shared by every process, every call through one circuit breaker and one timeout.

    Stampedes across processes: the first process to miss takes a short lock (`SET NX PX`)
    and loads; the others poll for the value for at most `wait_seconds`, then load themselves
    rather than fail. A delete Redis could not take is owed: it is retried before the next read,
    and until it succeeds reads go to the loader, so an outage cannot resurrect an entry this
    process invalidated meanwhile (at most `max_owed` names are remembered).
    """

    name = "cache.redis"

    def __init__(
        self,
        client: Redis,
        breaker: CircuitBreaker,
        *,
        prefix: str,
        timeout: float,
        lock_seconds: float = 5.0,
        wait_seconds: float = 1.0,
        poll_seconds: float = 0.02,
        max_owed: int = 10_000,
    ) -> None:
        self._redis = client
        self._breaker = breaker
        self._prefix = prefix
        self._timeout = timeout
        self._lock_ms = _ms(lock_seconds)
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds
        self._max_owed = max_owed
        self._owed_keys: set[str] = set()
        self._owed_tags: set[str] = set()
        self._forget = client.register_script(FORGET)
        self._store = client.register_script(STORE)
        self._release = client.register_script(RELEASE)
        self._flights = SingleFlight()

    @classmethod
    def from_url(
        cls, url: str, breaker: CircuitBreaker, *, prefix: str, timeout: float
    ) -> RedisResponseCache:
        """A client that never retries on its own: the breaker and the caller decide."""
        client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, breaker, prefix=prefix, timeout=timeout)

    async def get(self, key: str) -> bytes | None:
        try:
            return await self._read(key)
        except _Unavailable:
            return None

    async def set(self, key: str, value: bytes, ttl: float, tags: Iterable[str] = ()) -> None:
        await self._stored(key, value, ttl, tags)

    async def delete(self, *keys: str, tags: Iterable[str] = ()) -> None:
        self._owe(keys, tags)
        await self._caught_up()

    async def get_or_load(
        self, key: str, loader: Loader, ttl: float, *, missed: bool = False
    ) -> Lookup:
        cached = None if missed else await self.get(key)
        if cached is not None:
            return Lookup(cached, hit=True)
        return await self._flights.run(key, lambda: self._fill(key, loader, ttl))

    async def ping(self) -> bool:
        if not await self._caught_up():
            return False
        try:
            await self._call(self._redis.ping)
        except _Unavailable:
            return False
        return True

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _fill(self, key: str, loader: Loader, ttl: float) -> Lookup:
        lock, token = self._key(f"lock:{key}"), secrets.token_hex(16)
        try:
            if not await self._caught_up():
                raise _Unavailable
            locked = bool(
                await self._call(lambda: self._redis.set(lock, token, nx=True, px=self._lock_ms))
            )
            if not locked:
                waited = await self._wait_for(key)
                if waited is not None:
                    return Lookup(waited, hit=True)
        except _Unavailable:
            return Lookup((await loader()).value, hit=False)
        try:
            loaded = await loader()
        except BaseException:
            if locked:
                await self._unlock(lock, token)
            raise
        await self._stored(key, loaded.value, ttl, loaded.tags, (lock, token) if locked else None)
        return Lookup(loaded.value, hit=False)

    async def _stored(
        self,
        key: str,
        value: bytes,
        ttl: float,
        tags: Iterable[str],
        lock: tuple[str, str] | None = None,
    ) -> None:
        """Stores the entry and releases `lock` (name, token) in one round trip; when Redis
        cannot take it, the entry is not cached and the lock expires on its own."""
        full = self._key(key)
        lock_name, token = lock or (full, "")
        keys = [full, lock_name, *map(self._key, tags)]
        with contextlib.suppress(_Unavailable):
            await self._call(lambda: self._store(keys=keys, args=[value, _ms(ttl), token]))

    async def _wait_for(self, key: str) -> bytes | None:
        """Another process is loading `key`: its value, if it lands within the bounded wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_seconds
        while loop.time() < deadline:
            await asyncio.sleep(self._poll_seconds)
            value = await self._read(key)
            if value is not None:
                return value
        return None

    async def _unlock(self, lock: str, token: str) -> None:
        with contextlib.suppress(_Unavailable):  # else the lock expires on its own
            await self._call(lambda: self._release(keys=[lock], args=[token]))

    async def _read(self, key: str) -> bytes | None:
        if not await self._caught_up():
            raise _Unavailable
        value = await self._call(lambda: self._redis.get(self._key(key)))
        return value.encode() if isinstance(value, str) else value

    async def _caught_up(self) -> bool:
        """Does the deletes still owed; False while Redis cannot take them. Names are struck
        off only once Redis confirmed, so a concurrent reader never reads past a pending one."""
        if not (self._owed_keys or self._owed_tags):
            return True
        keys, tags = list(self._owed_keys), list(self._owed_tags)
        full = [self._key(name) for name in (*keys, *tags)]
        try:
            await self._call(lambda: self._forget(keys=full, args=[len(keys)]))
        except _Unavailable:
            return False
        self._owed_keys.difference_update(keys)
        self._owed_tags.difference_update(tags)
        return True

    def _owe(self, keys: Iterable[str], tags: Iterable[str]) -> None:
        self._owed_keys.update(keys)
        self._owed_tags.update(tags)
        if len(self._owed_keys) + len(self._owed_tags) > self._max_owed:
            logger.warning(
                "cache %r: more than %d deletes owed; dropped, their entries expire by TTL",
                self.name,
                self._max_owed,
            )
            self._owed_keys.clear()
            self._owed_tags.clear()

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call_dependency(
                self._breaker, operation, timeout=self._timeout, attempts=1
            )
        except UNAVAILABLE as error:
            log = logger.debug if isinstance(error, CircuitOpen) else logger.warning
            log("cache %r unavailable: %r", self.name, error)
            raise _Unavailable from error

    def _key(self, name: str) -> str:
        return f"{self._prefix}:{name}"


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))
